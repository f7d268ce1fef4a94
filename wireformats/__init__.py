"""Formats the product and its stand-ins both write, kept in one place.

The demo data (billing.demo) and the fakes in `emulator/` write the same provider formats
(Braintree's typed XML), but the apps may not import `emulator/` (it is not shipped) and the
emulator may import neither Django nor the apps (it runs on its own). So the one writer lives
here: plain Python, importing nothing of the project and no Django (tests/test_layout.py
checks both).
"""
