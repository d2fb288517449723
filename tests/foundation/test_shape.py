"""The one shape of a service (docs/architecture.md): the same files for the same roles in
every service, pure domain rules, thin routes, and imports that only point inwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("booking", "loans", "catering", "notify")
# Every domain service has these; handlers.py, timers.py and seed.py only where it consumes
# events, runs timers or has reference data.
ROLE_FILES = (
    "domain.py",
    "usecases.py",
    "store.py",
    "models.py",
    "settings.py",
    "app.py",
    "__main__.py",
    "api/__init__.py",
    "api/schemas.py",
    "migrations",
)
HAS_HANDLERS = {"catering", "notify"}
HAS_TIMERS = {"booking", "loans", "notify"}
HAS_SEED = {"booking", "loans", "catering"}  # notify has no reference data of its own
RETIRED = ("operations.py", "lending.py", "ordering.py", "config.py", "menu_seed.py", "schemas.py")
IMPURE = ("sqlalchemy", "fastapi", "starlette", "redis", "httpx", "shared.service", "shared.db")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    called: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                called.add(func.attr)
            elif isinstance(func, ast.Name):
                called.add(func.id)
    return called


def _under(names: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_the_role_files(service: str) -> None:
    base = ROOT / "services" / service
    expected = list(ROLE_FILES)
    expected += ["handlers.py"] if service in HAS_HANDLERS else []
    expected += ["timers.py"] if service in HAS_TIMERS else []
    expected += ["seed.py"] if service in HAS_SEED else []
    missing = [f for f in expected if not (base / f).exists()]
    assert not missing, f"services/{service} lacks {missing}"
    retired = [f for f in RETIRED if (base / f).exists()]
    assert not retired, f"services/{service} still has {retired} (see docs/architecture.md)"


@pytest.mark.parametrize("service", SERVICES)
def test_domain_rules_are_pure(service: str) -> None:
    impure = _under(_imports(ROOT / "services" / service / "domain.py"), IMPURE)
    assert not impure, f"services/{service}/domain.py imports {sorted(impure)}"


@pytest.mark.parametrize("service", SERVICES)
def test_routes_neither_emit_nor_open_transactions(service: str) -> None:
    for path in sorted((ROOT / "services" / service / "api").glob("*.py")):
        called = _calls(path)
        forbidden = called & {"emit", "emit_envelopes", "transaction", "begin", "commit", "record"}
        assert not forbidden, f"{path.relative_to(ROOT)} calls {sorted(forbidden)}"
        touches_db = _under(_imports(path), ("sqlalchemy", "shared.db", "shared.messaging"))
        assert not touches_db, f"{path.relative_to(ROOT)} imports {sorted(touches_db)}"


@pytest.mark.parametrize("service", SERVICES)
def test_use_cases_and_handlers_never_see_a_session(service: str) -> None:
    base = ROOT / "services" / service
    for name in ("usecases.py", "handlers.py", "timers.py", "domain.py"):
        path = base / name
        if not path.exists():
            continue
        source = path.read_text()
        assert "AsyncSession" not in source, f"services/{service}/{name} handles a session"
        assert ".session" not in source, f"services/{service}/{name} reaches for a session"
        assert "emit(" not in source, f"services/{service}/{name} writes the outbox itself"


def test_refusals_are_one_vocabulary() -> None:
    for path in sorted((ROOT / "services").rglob("*.py")):
        source = path.read_text()
        assert "ApiError" not in source, f"{path.relative_to(ROOT)} uses ApiError"
        assert "HTTPException" not in source, f"{path.relative_to(ROOT)} raises HTTP itself"


def test_shared_imports_no_service_and_no_service_imports_another() -> None:
    for path in sorted((ROOT / "shared").rglob("*.py")):
        services = _under(_imports(path), ("services",))
        assert not services, f"{path.relative_to(ROOT)} imports {sorted(services)}"
    for service in (*SERVICES, "web"):
        others = tuple(f"services.{s}" for s in (*SERVICES, "web") if s != service)
        for path in sorted((ROOT / "services" / service).rglob("*.py")):
            wrong = _under(_imports(path), others)
            assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_one_runtime_of_and_no_hub_literal() -> None:
    for path in sorted((ROOT / "services").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = path.read_text()
        assert "def runtime_of" not in source, f"{path.relative_to(ROOT)} has its own runtime_of"
        assert '"stromso"' not in source, f"{path.relative_to(ROOT)}: use shared.hubs.DEFAULT_HUB"
