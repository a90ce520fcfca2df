"""The Kivy screens of the grid worker's app. Thin: every decision is behind mobile.service.AppService.

Importing this package imports Kivy; nothing else under mobile/ may import it.
"""
