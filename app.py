"""activespot review app from a checkout: ``streamlit run app.py -- --project DIR`` (or ``activespot app DIR``).

The app lives in the package (:mod:`activespot.app._main`); this file only runs it.
"""

from activespot.app import main

main()
