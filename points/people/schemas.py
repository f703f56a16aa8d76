"""Marshmallow shapes of households and residents. Personal fields arrive already masked per the caller's
disclosure (auth.policy), so one schema serves every role."""
from marshmallow import Schema, fields

from .models import CareTag, Closure, Departure, Household, HouseholdKind, Resident
from .privacy import mask_id_number, mask_name, mask_phone


class ResidentSchema(Schema):
    id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "Masked (张*明) in lists"})
    relation = fields.String(required=True)
    phone = fields.String(allow_none=True,
                          metadata={"description": "Masked (138****5678) unless the caller may see it"})
    id_number = fields.String(allow_none=True,
                              metadata={"description": "Masked unless the caller is an admin in scope"})
    left_on = fields.Date(allow_none=True,
                          metadata={"description": "The day they left the household; null: living in it"})
    departure = fields.Enum(Departure, by_value=True, allow_none=True, metadata={"description": "Why they left"})


class HouseholdSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "户号, unique within the village"})
    village_id = fields.Integer(required=True)
    grid_id = fields.Integer(required=True)
    address = fields.String(required=True)
    kind = fields.Enum(HouseholdKind, by_value=True, required=True)
    head_name = fields.String(allow_none=True, metadata={"description": "Masked (张*明)"})
    balance = fields.Integer(required=True, metadata={"description": "积分余额: the sum of the household's entries"})
    closed_on = fields.Date(allow_none=True, metadata={
        "description": "整户迁出: the day it left the register (it earns and redeems no more); null: on the register"})
    closure = fields.Enum(Closure, by_value=True, allow_none=True, metadata={"description": "Why it left"})


class HouseholdDetailSchema(HouseholdSchema):
    residents = fields.List(fields.Nested(ResidentSchema), required=True)
    care_tags = fields.List(
        fields.Enum(CareTag, by_value=True), metadata={"description": "Only for grid staff and admins in scope"}
    )


def resident_view(resident: Resident, full_name: bool, phones: bool, id_numbers: bool) -> dict:
    """A resident with personal fields masked as the caller's disclosure says."""
    return {
        "id": resident.id,
        "household_id": resident.household_id,
        "name": resident.name if full_name else mask_name(resident.name),
        "relation": resident.relation,
        "phone": resident.phone if phones else (mask_phone(resident.phone) or None),
        "id_number": resident.id_number if id_numbers else (mask_id_number(resident.id_number) or None),
        "left_on": resident.left_on,
        "departure": resident.departure,
    }


def household_view(household: Household, balance: int) -> dict:
    """A household as it appears in lists: the head's name masked, with its balance (ledger.queries)."""
    return {
        "id": household.id,
        "number": household.number,
        "village_id": household.village_id,
        "grid_id": household.grid_id,
        "address": household.address,
        "kind": household.kind,
        "head_name": mask_name(household.head.name) if household.head else None,
        "balance": balance,
        "closed_on": household.closed_on,
        "closure": household.closure,
    }
