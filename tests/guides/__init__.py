from django.test import Client, RequestFactory

from guides.visitors import VISITOR_COOKIE, Visitor, visitor_of


def visitor_of_client(client: Client) -> Visitor:
    """The visitor a test client's signed cookie names, read as the guide pages read it."""
    request = RequestFactory().get("/")
    request.COOKIES[VISITOR_COOKIE] = client.cookies[VISITOR_COOKIE].value
    return visitor_of(request)
