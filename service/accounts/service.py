"""The rules of the accounts domain: who exists, and the credentials they get (returned once, stored hashed)."""

from __future__ import annotations

from service.accounts import repository as repo
from service.accounts.errors import AlreadyExists, FacilityNotFound, InvalidInsurerNumber
from service.core.database import Connection
from service.core.errors import InvalidInput
from service.core.identifiers import is_valid_insurer_number
from service.core.security import hash_password, hash_token, new_token

FACILITY_TYPES = ("clinic", "hospital", "dental", "pharmacy")
STAFF_ROLES = ("reception", "doctor", "dentist", "pharmacist")


async def create_facility(conn: Connection, *, code: str, name: str, type_: str) -> dict[str, str]:
    """Register a facility under its 10-digit 医療機関コード."""
    if not (len(code) == 10 and code.isascii() and code.isdigit()):
        raise InvalidInput("facility code must be 10 digits (医療機関コード)")
    if type_ not in FACILITY_TYPES:
        raise InvalidInput(f"facility type must be one of {', '.join(FACILITY_TYPES)}")
    if not name.strip():
        raise InvalidInput("facility name must not be empty")
    if not await repo.insert_facility(conn, code=code, name=name.strip(), type_=type_):
        raise AlreadyExists(f"facility {code} exists already")
    return {"facility_code": code}


async def create_terminal(conn: Connection, *, facility_code: str) -> dict[str, str]:
    """A reception terminal bound to one facility, and its bearer token."""
    if not await repo.facility_exists(conn, facility_code):
        raise FacilityNotFound(f"no facility {facility_code}")
    terminal_id = await repo.insert_terminal(conn, facility_code=facility_code)
    token = new_token("terminal")
    await repo.insert_token(conn, token_hash=hash_token(token), kind="terminal", terminal_id=terminal_id)
    return {"terminal_id": terminal_id, "token": token}


async def create_staff(
    conn: Connection, *, facility_code: str, role: str, login: str, password: str
) -> dict[str, str]:
    """A staff member of a facility with a role; the password is stored as a scrypt hash."""
    if role not in STAFF_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(STAFF_ROLES)}")
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters")
    if not await repo.facility_exists(conn, facility_code):
        raise FacilityNotFound(f"no facility {facility_code}")
    staff_id = await repo.insert_staff(
        conn, facility_code=facility_code, role=role, login=login, password_hash=hash_password(password)
    )
    if staff_id is None:
        raise AlreadyExists(f"login {login!r} is taken")
    return {"staff_id": staff_id}


async def create_insurer(conn: Connection, *, number: str, name: str) -> dict[str, str]:
    """An insurer (保険者) and its token, scoped to its insurer number."""
    if not is_valid_insurer_number(number):
        raise InvalidInsurerNumber(f"{number!r} is not a valid insurer number (6 or 8 digits, check digit)")
    if not await repo.insert_insurer(conn, number=number, name=name):
        raise AlreadyExists(f"insurer {number} exists already")
    token = new_token("insurer")
    await repo.insert_token(conn, token_hash=hash_token(token), kind="insurer", insurer_number=number)
    return {"insurer_number": number, "token": token}


async def create_operator(conn: Connection, *, name: str = "operator") -> dict[str, str]:
    """An authority operator (J-LIS role) token."""
    operator_id = await repo.insert_operator(conn, name=name)
    token = new_token("operator")
    await repo.insert_token(conn, token_hash=hash_token(token), kind="operator", operator_id=operator_id)
    return {"token": token}


async def create_claims_processor(conn: Connection, *, name: str = "claims processor") -> dict[str, str]:
    """A claims processor (審査支払機関) token for medication batches."""
    processor_id = await repo.insert_claims_processor(conn, name=name)
    token = new_token("claims")
    await repo.insert_token(conn, token_hash=hash_token(token), kind="claims", claims_processor_id=processor_id)
    return {"token": token}
