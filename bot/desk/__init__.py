"""The agent desk: a web application of its own where people answer handed-over conversations.

    python -m bot agents add ana --name "Ana" --role admin    a person who may log in
    python -m bot desk serve                                  http://127.0.0.1:5070

    app.py             create_app(): the composition root, security headers, health
    login_routes.py    log in and out, the admin's list of agents
    handoff_routes.py  the queue, a conversation, its live events, the suggestion, the buttons
    web.py             request plumbing: who is logged in, CSRF and Origin checks, flash messages
    auth.py            passwords (Argon2id), logins with a lockout, sessions
    queue.py           the handoffs table as the desk sees it: lists, claim, end, replies
    transcript.py      what the customer saw, with what the bot understood for its replies
    live.py            the server-sent events that keep an open conversation current
    suggest.py         the bot's answer to the customer's last question, as a suggested reply
    corrections.py     the team's corrections: approved answers, withdrawn ones, missing articles
    correction_routes.py  their pages: the list, the form, an admin's withdrawal
    dashboard.py       the admin's dashboard data: the log's figures per day, kept a minute
    dashboard_routes.py  its page, /dashboard (charts: static/dashboard.js, Chart.js)
    cli.py             the `desk` and `agents` commands

The desk reaches customers only through the Rasa server's desk bridge (bot/handoff/bridge.py);
it reads the conversation log's tables (bot/storage/models.py) and writes only its own rows.
"""
