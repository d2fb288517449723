from services.loans.app import SPEC
from shared.service import run

run(SPEC)
