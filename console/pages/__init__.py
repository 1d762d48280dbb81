"""The console's pages, one module per desk.

Every page names, as its `ctx` parameter, the very gate (`Annotated[..., Depends(...)]`) of the
API route whose data it shows, and gets that data by calling the API route's function with that
`ctx`: a page can show neither more nor other than the API would answer to the same person, and
refuses with the same 403 or 404. A form posts the API body's fields; `console.forms.parse` turns
them into the API's own body model and the page calls the API route function that acts on it.
"""

from fastapi import APIRouter

from console.pages import admin, cases, duty, inbox, rota, session, shelters, supervision

router = APIRouter()
for module in (session, duty, rota, shelters, supervision, inbox, cases, admin):
    router.include_router(module.router)
