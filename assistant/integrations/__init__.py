"""The assistant as other systems see it, and the store's systems it calls.

Served: the HTTP API (`http_api.py`, a FastAPI router the web app mounts), the Rasa action
server (`_rasa.py`) and the Rasa project export (`_rasa_export.py`), both speaking the product
card and cart line defined once in `wire.py`. Called: the store's order-lookup hook
(`_orders.py`) and its helpdesk, through the human handoff desk (`_handoff.py`).

Kept empty on purpose: importing the order hook must not import FastAPI or the action server.
"""
