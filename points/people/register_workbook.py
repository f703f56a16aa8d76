"""导出花名册 and the import template: the workbook an import reads, filled with the register or blank, so that
export, edit in Excel, import is the way to maintain the register."""
import io

import openpyxl

from ..audit.services import record
from ..grids.models import GridNode
from ..grids.queries import grids_of_village
from ..xlsx import append_row
from .import_table import CARE_WORDS, COLUMNS, KIND_LABELS, REQUIRED, GridIndex, tag_words
from .import_updates import read_register


def register_rows(village: GridNode) -> list[list[str]]:
    """The village's register as import rows: each household on it, head first, then the residents who live in it.
    Importing them back changes nothing."""
    known = read_register(village)
    grids = GridIndex(village)
    rows = []
    for k in sorted((k for k in known.values() if not k.closed), key=lambda k: k.number):
        grid = grids.labels[k.grid_id]
        people = sorted(k.residents, key=lambda r: r.id != k.head_id)
        for i, resident in enumerate(people):
            rows.append([
                k.number, k.head_name, resident.name, resident.relation, resident.phone or "", resident.id_number or "",
                grid, k.address, KIND_LABELS[k.kind], tag_words(k.tags) if i == 0 else "",
            ])
    return rows


def export_register(village: GridNode, actor=None) -> bytes:
    """导出花名册: the import workbook filled with the register; audited, as it holds phone and ID numbers."""
    rows = register_rows(village)
    record(actor, "households.exported", "village", village.id, village.id,
           after={"households": len({row[0] for row in rows}), "residents": len(rows)})
    return template_workbook(village, rows)


def template_workbook(village: GridNode, rows: list[list[str]] = ()) -> bytes:
    """The import template: a sheet with the header and the given rows (none for a blank template: an example left
    in it would be imported as a real household), and a sheet explaining each column, the village's grids and an
    example household."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "户籍花名册"
    header = [f"{c}*" if c in REQUIRED else c for c in COLUMNS]
    sheet.append(header)
    for row in rows:
        append_row(sheet, row)
    for column, width in zip("ABCDEFGHIJ", (10, 12, 12, 12, 16, 22, 14, 18, 12, 16)):
        sheet.column_dimensions[column].width = width
        sheet.column_dimensions[column].number_format = "@"  # text, so that Excel keeps phone and ID numbers whole
    grids = grids_of_village(village.id)
    example_grid = grids[0].name if grids else "第一网格"
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for row in (
        ("户号", "可空；同一户的每一行填同一个户号。已在册的户号会按文件更新这一户；留空时按 所属网格+门牌号+户主姓名 "
                 "归户：与在册的一户相同就更新它，否则新增并自动编号"),
        ("户主姓名", "必填"),
        ("姓名", "家庭成员的姓名；留空表示这一行就是户主本人"),
        ("与户主关系", "户主、配偶、子女、父母……"),
        ("手机号", "11 位手机号，可空；全角数字会自动转换。留空不会清除已登记的号码"),
        ("身份证号", "18 位，可空；不能与别人已登记的重复。"
                     "在册的村民先按身份证号、再按姓名对应；留空不会清除已登记的号码"),
        ("所属网格", "必填；本村的网格：" + "、".join(g.name for g in grids)),
        ("门牌号", "必填"),
        ("户籍类型", "户籍 或 外来租住；留空为户籍"),
        ("关爱标签", "仅工作人员可见，可多个，用顿号分隔：" + "、".join(CARE_WORDS)),
    ):
        notes.append(list(row))
    notes.append([])
    notes.append(["更新", "导出的花名册改好后再导入即可更新：先预览每一处变更，确认后一次写入。文件中没有的列不会改动；"
                          "文件中没有的户和村民只列出，不会迁出或删除，请到户页面办理"])
    notes.append(["示例", "一户两人：户主一行，配偶一行（请在“户籍花名册”表中填写，不要填在这里）"])
    notes.append(header)
    notes.append(["0001", "张三明", "", "户主", "13812345678", "", example_grid, "瑶前村1号", "户籍", ""])
    notes.append(["0001", "张三明", "李秀英", "配偶", "", "", example_grid, "瑶前村1号", "户籍", ""])
    notes.column_dimensions["A"].width = 12
    notes.column_dimensions["B"].width = 80
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
