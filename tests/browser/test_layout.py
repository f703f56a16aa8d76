"""Every page of a village admin's day fits a 360 px phone, in Chinese and in English."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PAGES = ("/", "/households", "/households?page=23", "/import", "/admin/users", "/me")


@pytest.mark.parametrize("language", ["中文", "English"], ids=["zh", "en"])
def test_the_admins_pages_fit_the_phone(phone, language):
    phone.log_in("cunwei")
    phone.page.get_by_role("contentinfo").get_by_role("link", name=language).click()
    expect(phone.page.locator("html")).to_have_attribute("lang", "en" if language == "English" else "zh-CN")

    for path in PAGES:
        response = phone.open(path)  # open() checks the width and keeps a screenshot
        assert response.status == 200, path
        if path == "/":
            assert phone.open(phone.page.url + "/tree").status == 200  # the village's grid tree
    for listing, detail in (("/admin/users", "user"), ("/households", "household")):
        phone.open(listing)
        with phone.page.expect_navigation():
            phone.page.locator("ul.list a.row").first.click()
        phone.check(detail)
    with phone.page.expect_navigation():
        phone.page.locator("ul.list a.row").first.click()
    phone.check("resident")
