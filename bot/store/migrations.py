"""Numbered schema migrations, applied in order; each runs once per database."""

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        reporter_id TEXT NOT NULL,
        commander_id TEXT NOT NULL,
        origin_channel_id TEXT NOT NULL DEFAULT '',
        origin_post_id TEXT NOT NULL DEFAULT '',
        channel_id TEXT NOT NULL DEFAULT '',
        channel_name TEXT NOT NULL DEFAULT '',
        header_post_id TEXT NOT NULL DEFAULT '',
        header_pinned INTEGER NOT NULL DEFAULT 0,
        reporter_invited INTEGER NOT NULL DEFAULT 0,
        link_post_id TEXT NOT NULL DEFAULT '',
        setup_done INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        acknowledged_at INTEGER,
        resolved_at INTEGER,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX incidents_channel ON incidents(channel_id);
    CREATE UNIQUE INDEX incidents_origin_post ON incidents(origin_post_id) WHERE origin_post_id != '';

    CREATE TABLE timeline (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        actor_id TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX timeline_incident ON timeline(incident_id, at);

    CREATE TABLE handled_posts (
        post_id TEXT PRIMARY KEY,
        channel_id TEXT NOT NULL,
        handled_at INTEGER NOT NULL
    );

    CREATE TABLE channel_cursors (
        channel_id TEXT PRIMARY KEY,
        last_update_at INTEGER NOT NULL
    );
    """),
    (2, """
    ALTER TABLE incidents ADD COLUMN summary TEXT NOT NULL DEFAULT '';
    ALTER TABLE incidents ADD COLUMN alert_group TEXT NOT NULL DEFAULT '';
    ALTER TABLE incidents ADD COLUMN alerts_post_id TEXT NOT NULL DEFAULT '';
    CREATE INDEX incidents_alert_group ON incidents(alert_group) WHERE alert_group != '';

    CREATE TABLE incident_alerts (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        fingerprint TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        severity TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        link TEXT NOT NULL DEFAULT '',
        post_id TEXT NOT NULL DEFAULT '',
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (incident_id, fingerprint)
    );

    CREATE TABLE alert_posts (
        post_id TEXT NOT NULL,
        edit_at INTEGER NOT NULL,
        at INTEGER NOT NULL,
        parser TEXT NOT NULL,
        reason TEXT NOT NULL,
        outcome TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (post_id, edit_at)
    );

    CREATE TABLE alert_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE alert_timers (
        fingerprint TEXT PRIMARY KEY,
        due_at INTEGER NOT NULL,
        alert TEXT NOT NULL
    );

    CREATE TABLE alert_silences (
        fingerprint TEXT PRIMARY KEY,
        until_ms INTEGER NOT NULL,
        user_id TEXT NOT NULL
    );
    """),
    (3, """
    ALTER TABLE incidents ADD COLUMN playbook TEXT NOT NULL DEFAULT '';
    ALTER TABLE incidents ADD COLUMN alert TEXT NOT NULL DEFAULT '';

    CREATE TABLE incident_tasks (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        number INTEGER NOT NULL,
        checklist TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        assignee_id TEXT NOT NULL DEFAULT '',
        due_at INTEGER,
        status TEXT NOT NULL DEFAULT 'open',
        action TEXT NOT NULL DEFAULT '',
        done_by TEXT NOT NULL DEFAULT '',
        done_at INTEGER,
        PRIMARY KEY (incident_id, number)
    );

    CREATE TABLE playbook_runs (
        incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
        playbook TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        status TEXT NOT NULL,
        context TEXT NOT NULL DEFAULT '{}'
    );

    CREATE TABLE playbook_steps (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        step_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        status TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        summary TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '{}',
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (incident_id, step_id)
    );

    CREATE TABLE reminders (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        due_at INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        message TEXT NOT NULL,
        sent INTEGER NOT NULL DEFAULT 0
    );
    """),
    (4, """
    ALTER TABLE incidents ADD COLUMN roles TEXT NOT NULL DEFAULT '';
    ALTER TABLE incidents ADD COLUMN update_due_at INTEGER;

    CREATE TABLE incident_followers (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        user_id TEXT NOT NULL,
        PRIMARY KEY (incident_id, user_id)
    );
    """),
    (5, """
    ALTER TABLE incidents ADD COLUMN page_level INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE incidents ADD COLUMN page_due_at INTEGER;

    CREATE TABLE oncall_overrides (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule TEXT NOT NULL,
        username TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        layer INTEGER NOT NULL DEFAULT 1,
        created_by TEXT NOT NULL
    );
    """),
    (6, """
    CREATE TABLE digest_schedule (
        channel_id TEXT PRIMARY KEY,
        next_due_at INTEGER NOT NULL,
        last_sent_day TEXT NOT NULL DEFAULT '',
        last_post_id TEXT NOT NULL DEFAULT ''
    );

    CREATE TABLE webhook_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        sent_at INTEGER
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox(status, next_attempt_at);
    """),
    (7, """
    CREATE TABLE followups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        text TEXT NOT NULL,
        owner_id TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        ticket TEXT NOT NULL DEFAULT ''
    );
    """),
    (8, """
    CREATE TABLE related_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        item_key TEXT NOT NULL,
        rule TEXT NOT NULL,
        post_id TEXT NOT NULL DEFAULT '',
        channel_id TEXT NOT NULL DEFAULT '',
        channel_name TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL DEFAULT '',
        excerpt TEXT NOT NULL DEFAULT '',
        permalink TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        noted_at INTEGER NOT NULL,
        digested INTEGER NOT NULL DEFAULT 0,
        UNIQUE (incident_id, item_key)
    );
    CREATE INDEX related_items_pending ON related_items(digested, incident_id);
    """),
    (9, """
    CREATE TABLE command_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        args_text TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '{}',
        actor_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        thread_id TEXT NOT NULL DEFAULT '',
        incident_id INTEGER REFERENCES incidents(id),
        status TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        result TEXT NOT NULL DEFAULT '{}',
        confirmed_by TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        undo_status TEXT NOT NULL DEFAULT '',
        post_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX command_runs_incident ON command_runs(incident_id, id);
    CREATE UNIQUE INDEX command_runs_post ON command_runs(post_id) WHERE post_id != '';
    CREATE INDEX command_runs_undo ON command_runs(undo_status) WHERE undo_status = 'pending';
    """),
)
