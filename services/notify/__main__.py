from services.notify.app import SPEC
from shared.service import run

run(SPEC)
