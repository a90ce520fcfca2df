"""Android entry point: python-for-android starts main.py in the app folder (buildozer.spec)."""

from mobile.__main__ import main

main([])
