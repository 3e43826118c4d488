"""Helpers for tests that run the portal with the Zoom simulator mounted at /zoom-sim."""

from urllib.parse import parse_qs, urlsplit

SIM_BASE = "http://localhost/zoom-sim"


def simulator_config(app_config):
    """Turn a test app config into one with the simulator mounted (webhooks off)."""
    config = dict(app_config)
    config.update(
        {
            "ZOOM_SIMULATOR": True,
            "ZOOM_SIM_BASE_URL": SIM_BASE,
            "ZOOM_SIM_OPTIONS": {"webhook_url": None},
        }
    )
    return config


def sim_state(app):
    return app.extensions["zoom_sim"]


def start_connect(auth):
    """Press Authorize: returns the simulator's authorize URL the portal redirected to."""
    response = auth.post("/zoom/connect", token_path="/tutor/preferences")
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(SIM_BASE + "/oauth/authorize?")
    return location


def approve(client, app, authorize_url, user_key, action="approve"):
    """Sign in at the simulator as user_key; returns the callback URL Zoom sends back."""
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    page = client.get(authorize_url)
    assert page.status_code == 200
    params["user_id"] = sim_state(app).user(user_key).id
    params["action"] = action
    response = client.post(SIM_BASE + "/oauth/authorize", data=params)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def connect_as(auth, client, app, user_key):
    """The whole connect journey; returns the portal's answer to the callback."""
    callback = approve(client, app, start_connect(auth), user_key)
    assert callback.startswith("http://localhost/zoom/callback?")
    return client.get(callback)
