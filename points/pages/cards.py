"""Pages of 户卡, on the events blueprint: the household cards of a grid, eight to an A4 page, with the button that
issues the missing ones, and 补办 of one household's card."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..auth import cards as auth_cards
from ..errors import NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.queries import get_node
from ..people.cards import card_text
from ..people.models import Household
from ..people.privacy import mask_name
from . import confirm
from .events import bp


def _grid(grid_id: int) -> GridNode:
    grid = get_node(grid_id)
    if grid.kind is not NodeKind.GRID:
        raise NotFound()
    return grid


@bp.get("/grids/<id:grid_id>/cards")
@login_required
def cards(grid_id: int):
    """户卡: the current card of every household of the grid, eight to an A4 page; households without a card are
    listed, and issued theirs by one button (the page itself changes nothing)."""
    grid = _grid(grid_id)
    printed, missing = auth_cards.cards_of_grid(current_user, grid)
    return render_template("events/cards.html", grid=grid, cards=printed, missing=missing, text=card_text)


@bp.post("/grids/<id:grid_id>/cards")
@login_required
def issue_cards(grid_id: int):
    grid = _grid(grid_id)
    issued = auth_cards.issue_missing_cards(current_user, grid)
    if issued:
        flash(_("已发放 %(n)d 户的户卡", n=len(issued)))
    else:
        flash(_("每户都已有户卡，没有发放新卡"))
    return redirect(url_for("events.cards", grid_id=grid.id))


@bp.post("/households/<id:household_id>/card/reissue")
@login_required
def reissue(household_id: int):
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound()
    card = auth_cards.issue_card(current_user, household, request.form.get("serial", type=int))
    if card is None:  # the card this page showed was replaced already: the form was sent twice
        db.session.rollback()
        flash(_("户号 %(number)s 的卡已经补办过了，不再补办", number=household.number), "error")
        return redirect(url_for("events.cards", grid_id=household.grid_id))
    if not confirm.confirmed():  # 补办 voids the card the household holds: confirmed first, naming it
        head = mask_name(household.head.name) if household.head else ""
        what = _("将为户号 %(number)s（%(head)s）补办第 %(serial)d 张户卡", number=household.number, head=head,
                 serial=card.serial)
        warning = _("旧卡（第 %(old)d 张）立即作废：扫旧卡不能再签到，也不能在积分超市兑换", old=card.serial - 1) \
            if card.serial > 1 else ""
        back = url_for("events.cards", grid_id=household.grid_id)
        return confirm.ask(_("确认补办户卡"), what, button=_("补办户卡"), back=back, warning=warning,
                           details=[_("补办后请打印新卡交给这一户，并收回旧卡。")])
    flash(_("已为 %(number)s 补办户卡（第 %(serial)d 张），旧卡作废", number=household.number, serial=card.serial))
    return redirect(url_for("events.cards", grid_id=household.grid_id))
