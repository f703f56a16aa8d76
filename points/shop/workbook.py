"""A shop's day or month as .xlsx, for the village's records: the totals, the products by quantity redeemed, the
stock left, and every redemption. Names are masked as on the receipts; the file is in Chinese whatever the page's
language, like the hygiene results'."""
from ..people.privacy import mask_name
from ..timeutil import utc_to_local
from ..xlsx import add_sheet, book_bytes, new_book
from .models import Redemption
from .reports import ShopReport


def _period(report: ShopReport) -> str:
    if report.first == report.last:
        return report.first.isoformat()
    return f"{report.first.isoformat()} 至 {report.last.isoformat()}"


def report_workbook(report: ShopReport, redemptions: list[Redemption]) -> bytes:
    """Four sheets: 汇总 (the totals), 商品排行, 库存 (with the low-stock warnings) and 兑换明细."""
    book = new_book()
    low = {p.id for p in report.low}
    add_sheet(book, "汇总", ("项目", "数值"), [
        ("超市", report.shop.name), ("期间", _period(report)), ("兑换笔数", report.redemptions),
        ("兑换积分", report.points), ("作废笔数", report.voided), ("库存不足的商品", len(report.low))], (18, 30))
    add_sheet(book, "商品排行", ("名次", "商品", "兑换数量", "兑换积分"),
           [(rank, s.name, s.quantity, s.points) for rank, s in enumerate(report.top, start=1)], (8, 24, 12, 12))
    add_sheet(book, "库存", ("商品", "单位", "兑换积分", "库存", "状态", "提醒"),
           [(p.name, p.unit, p.price, p.stock, "上架" if p.active else "下架", "库存不足" if p.id in low else "")
            for p in report.products], (24, 8, 10, 8, 8, 10))
    rows = []
    for r in redemptions:
        head = r.household.head.name if r.household.head else ""
        items = "、".join(f"{line.name}×{line.quantity}" for line in r.lines)
        rows.append((r.number, utc_to_local(r.created_at).strftime("%Y-%m-%d %H:%M"), r.household.number,
                     mask_name(head), items, r.total, "已作废" if r.voided_at else "",
                     r.void_reason or "", r.clerk.display_name if r.clerk else ""))
    add_sheet(book, "兑换明细", ("兑换单号", "时间", "户号", "户主", "商品", "积分", "状态", "作废理由", "经办人"),
           rows, (14, 18, 10, 10, 36, 8, 8, 20, 12))
    return book_bytes(book)
