"""The page `digits web` writes, in a real browser: headless Chromium over WebDriver (Selenium,
Debian's chromium and chromium-driver), every host but 127.0.0.1 unreachable.

    python web/check_page.py URL OUT_DIR

Draws a "1" with pointer actions, reads what the page exposes (window.digits: the 28x28
input, the ten probabilities, the answer, load and update times), clears, and prints one JSON
object. Screenshots (desktop and phone sizes) go to OUT_DIR for a person to look at. The Rust
test (tests/web.rs) compares the probabilities with `digits predict`'s on the same input.
"""

import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By


def browser():
    # The driver and browser are given: Selenium Manager must not fetch any.
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1500",
        # The network off: no host resolves but the page's own server.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(driver, script, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for: {script}")


def foreign_resources(driver, more=()):
    """What the page (and, in `more`, its workers) loaded from anywhere but its own server."""
    origin = driver.execute_script("return location.origin")
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return [name for name in [*names, *more] if not name.startswith(origin)]


def console_errors(driver):
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def draw_one(driver):
    """A vertical stroke down the middle of the pad, in small pointer moves."""
    pad = driver.find_element(By.ID, "pad")
    height = pad.size["height"]
    actions = ActionChains(driver, duration=10)
    actions.move_to_element_with_offset(pad, 0, -int(height * 0.38)).click_and_hold()
    steps = 24
    for _ in range(steps):
        actions.move_by_offset(0, int(height * 0.76 / steps))
    actions.release().perform()


def main(url, out_dir):
    driver = browser()
    try:
        driver.get(url)
        wait_for(driver, "return window.digits && window.digits.ready")
        draw_one(driver)
        wait_for(driver, "return window.digits.digit !== null")
        drawn = driver.execute_script(
            "const d = window.digits; return {input: d.input, probabilities: d.probabilities,"
            " digit: d.digit, loadMs: d.loadMs, updates: d.updates,"
            " updateMeanMs: d.updateTotalMs / d.updates};"
        )
        drawn["answer_shown"] = driver.find_element(By.ID, "answer").text
        driver.save_screenshot(f"{out_dir}/page.png")
        driver.set_window_size(390, 1600)
        time.sleep(0.3)
        driver.save_screenshot(f"{out_dir}/page-phone.png")
        driver.set_window_size(1280, 1500)
        driver.find_element(By.ID, "clear").click()
        cleared = driver.execute_script(
            "const d = window.digits; return {input: d.input, probabilities: d.probabilities,"
            " answer: document.getElementById('answer').textContent};"
        )
        foreign = foreign_resources(driver)
        errors = console_errors(driver)
    finally:
        driver.quit()
    print(
        json.dumps(
            {
                "drawn": drawn,
                "cleared": cleared,
                "foreign_resources": foreign,
                "console_errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
