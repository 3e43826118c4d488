"""Code that runs in spawned worker processes (kept free of pytest imports)."""


def refresh_worker(database_url, settings_fields, tutor_id, barrier, results):
    """Open our own DB connection, wait for the others, then make one API call as the tutor."""
    import requests

    from portal import db as dbmod
    from portal.zoom import ZoomClient, ZoomSettings

    dbmod.database.initialize(dbmod.make_database(database_url))
    try:
        settings = ZoomSettings(**settings_fields)
        with requests.Session() as session:
            client = ZoomClient(tutor_id, settings, http=session)
            barrier.wait(60)
            results.put(("ok", client.me()["id"]))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put(("error", repr(exc)))
    finally:
        if not dbmod.database.is_closed():
            dbmod.database.close()
