"""Entry point of the Android foreground service "track" (buildozer.spec `services`): records
the running visit's GPS track while the screen is off. Android only."""

from mobile.android_location import track_service_main

track_service_main()
