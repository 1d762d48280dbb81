"""The staff console: the night shift, the shelter and the CSW desk in a browser.

Server-rendered pages under /console, in the staff's own languages, over the same gates and the
same API route functions as the JSON API (console/pages/__init__.py says how). It is an
interface, not a domain: it may use every domain, and no domain or core module uses it.
"""
