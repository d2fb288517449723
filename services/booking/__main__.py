from services.booking.app import SPEC
from shared.service import run

run(SPEC)
