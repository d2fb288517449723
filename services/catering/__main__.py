from services.catering.app import SPEC
from shared.service import run

run(SPEC)
