"""Who may do what: every route behind the login, CSRF and Origin on every form, the cookie's
flags, the admin page, the security headers."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.storage.models import AgentMessage, Handoff
from tests.desk.conftest import page_csrf

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/health")}
API_PATHS = ("/queue.json", "/events", "/suggestion")


def _routes(app):
    """Every (method, path) the app serves, read from its OpenAPI description (built from its
    routes, included routers too, even though the desk does not publish it), so a new route is
    tested without being listed here."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            found.append((method.upper(), path))
    return found


def test_every_route_but_login_and_health_needs_a_session(app, add_handoff):
    handoff_id = add_handoff()
    routes = _routes(app)
    assert len(routes) >= 14
    client = TestClient(app)
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        url = path.replace("{handoff_id}", str(handoff_id))
        response = client.request(method, url, follow_redirects=False,
                                  headers={"Accept": "text/html"})
        if path.endswith(API_PATHS):
            assert response.status_code == 401, (method, path)
            assert response.json() == {"error": "login required"}
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"] == "/login", (method, path)
    # a forged cookie is no session either
    client.cookies.set("desk_session", "forged")
    assert client.get("/queue.json").status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303


def test_health_and_static_need_no_login(app):
    client = TestClient(app)
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/static/desk.js").status_code == 200
    assert client.get("/static/desk.css").status_code == 200
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


def test_pages_carry_a_content_security_policy(app, browser):
    ana = browser("ana")
    for response in (ana.get("/"), TestClient(app).get("/login"), ana.get("/queue.json"),
                     ana.get("/static/desk.js")):
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
    assert "<script>" not in ana.get("/").text  # the only script is the static file


def test_session_cookie_is_httponly_and_samesite_strict(app, add_agent):
    from tests.desk.conftest import log_in

    add_agent("ana")
    response = log_in(TestClient(app), "ana")
    assert response.status_code == 303
    cookie = [h for h in response.headers.get_list("set-cookie") if h.startswith("desk_session=")]
    assert len(cookie) == 1
    flags = cookie[0].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    assert "secure" not in flags  # desk_cookie_secure is off by default (plain HTTP on a laptop)


def test_secure_cookie_when_the_settings_say_so(settings, sessions, bridge, clock, add_agent):
    from dataclasses import replace

    from bot.desk.app import create_app
    from tests.desk.conftest import log_in

    app = create_app(replace(settings, desk_cookie_secure=True), sessions=sessions,
                     bridge=bridge, suggester=lambda t, p: None, clock=clock, login_delay_s=0)
    add_agent("ana")
    response = log_in(TestClient(app, base_url="https://testserver"), "ana")
    cookie = [h for h in response.headers.get_list("set-cookie") if h.startswith("desk_session=")]
    assert "; secure" in cookie[0].lower()


def test_admin_page_is_for_admins(browser):
    ana = browser("ana")
    assert ana.get("/admin/agents", headers={"Accept": "text/html"}).status_code == 403
    response = ana.post("/admin/agents", data={"csrf_token": page_csrf(ana), "username": "eve",
                                               "password": "0123456789ab"})
    assert response.status_code == 403
    boss = browser("boss", "admin")
    page = boss.get("/admin/agents")
    assert page.status_code == 200 and "ana" in page.text
    response = boss.post("/admin/agents", data={
        "csrf_token": page_csrf(boss), "username": "Bruno", "display_name": "Bruno S.",
        "role": "agent", "password": "0123456789ab"}, follow_redirects=False)
    assert response.status_code == 303
    listing = boss.get("/admin/agents").text
    assert "Added bruno." in listing and "Bruno S." in listing
    assert "eve" not in listing
    short = boss.post("/admin/agents", data={"csrf_token": page_csrf(boss), "username": "carl",
                                             "password": "short"})
    assert "at least 10 characters" in short.text


def _counts(sessions):
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(AgentMessage)),
                session.execute(select(Handoff.status, Handoff.claimed_by)).all())


def test_posts_without_the_right_csrf_token_or_from_another_site_change_nothing(
        browser, add_handoff, sessions, bridge):
    handoff_id = add_handoff()
    ana = browser("ana")
    token = page_csrf(ana)
    before = _counts(sessions)
    forms = {
        f"/conversations/{handoff_id}/claim": {},
        f"/conversations/{handoff_id}/reply": {"text": "Hello"},
        f"/conversations/{handoff_id}/handback": {},
        f"/conversations/{handoff_id}/close": {},
        "/logout": {},
    }
    for path, data in forms.items():
        assert ana.post(path, data=data).status_code == 403, path
        assert ana.post(path, data={**data, "csrf_token": "0" * 64}).status_code == 403, path
        foreign = ana.post(path, data={**data, "csrf_token": token},
                           headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403, path
    assert _counts(sessions) == before
    assert bridge.sent == [] and bridge.resumed == []
    assert ana.get("/queue.json").status_code == 200  # still logged in: /logout was refused
    # the same form with the right token and our own origin goes through
    ok = ana.post(f"/conversations/{handoff_id}/claim", data={"csrf_token": token},
                  headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert ok.status_code == 303


def test_login_form_needs_its_own_csrf_token(app, add_agent):
    add_agent("ana")
    client = TestClient(app)
    client.get("/login")
    response = client.post("/login", data={"username": "ana", "password": "x" * 20,
                                           "csrf_token": "f" * 64}, follow_redirects=False)
    assert response.status_code == 403
    assert "desk_session" not in client.cookies
