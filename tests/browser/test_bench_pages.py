"""bench/pages.py's measuring works on a page of the demo village: a signed-in villager's home, on the throttled
phone, is counted response by response (the redirect, the page, its stylesheet) and timed to its load event."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import pages  # noqa: E402

pytestmark = pytest.mark.browser


def test_a_villagers_home_is_weighed_and_timed_on_the_throttled_phone(browser, live_server):
    state = pages.log_in(browser, live_server.url, "villager1")

    load = pages.measure(browser, live_server.url, "/", state, throttle=True)

    assert load.error == "", load.error
    assert load.status == 200 and load.url.endswith("/my/points")
    urls = [url for _size, _encoding, url in load.resources]
    assert f"{live_server.url}/" in urls and f"{live_server.url}/my/points" in urls  # the redirect and the page
    assert any("/static/" in url and ".css" in url for url in urls)
    assert load.bytes == sum(size for size, _encoding, _url in load.resources) > 2_000
    # The redirect, the page and its stylesheet one after the other, each 150 ms away on the emulated 3G.
    assert 0.45 <= load.seconds < 30


def test_a_page_that_fails_is_reported_not_raised(browser, live_server):
    load = pages.measure(browser, live_server.url, "/my/points", None, throttle=False)  # not signed in

    assert load.error == "sent to the login page"
    assert pages.verdict(pages.VILLAGER_PAGE, load) == "FAIL"
