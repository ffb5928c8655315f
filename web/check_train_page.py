"""The training page `digits web` writes (train.html), in a real browser: headless Chromium over
WebDriver (Selenium, Debian's chromium and chromium-driver), every host but 127.0.0.1
unreachable.

    python web/check_train_page.py URL OUT_DIR [EPOCHS]

Refusals first (fields a user can get wrong), then config/mlp.toml trained for EPOCHS epochs
(10 by default): paused and stepped on the way, a "1" drawn while it trains, the run
downloaded at the end into OUT_DIR/run.tar. Prints one JSON object of what the page showed;
the Rust test (tests/web.rs) compares it with `digits train` and `digits eval`.
"""

import base64
import json
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from check_page import browser, console_errors, draw_one, foreign_resources
from check_page import wait_for as wait_for_page


def wait_for(driver, script, seconds=60):
    """check_page's wait, saying on a timeout where the page was and what its console said."""
    try:
        return wait_for_page(driver, script, seconds)
    except SystemExit as timeout:
        state = driver.execute_script("return JSON.stringify(window.digitsTrain || null)")
        logs = [entry["message"] for entry in driver.get_log("browser")]
        raise SystemExit(f"{timeout}\npage: {state}\nconsole: {logs}") from None


def field(driver, name, value):
    element = driver.find_element(By.ID, name)
    element.clear()
    if value:
        element.send_keys(value)


def refused_with(driver, name, value):
    """Start with one field set to `value`: the page's refusal, and whether training began."""
    field(driver, name, value)
    driver.find_element(By.ID, "start").click()
    wait_for(driver, "return window.digitsTrain.phase === 'refused'", 30)
    message = driver.execute_script("return window.digitsTrain.message")
    shown = driver.find_element(By.ID, "message").text
    began = driver.execute_script("return window.digitsTrain.stepsDone")
    field(driver, name, "")
    return {"message": message, "shown": shown, "steps": began}


def main(url, out_dir, epochs):
    driver = browser()
    try:
        started = time.time()
        driver.get(url)
        wait_for(driver, "return window.digitsTrain && window.digitsTrain.ready", 120)
        load_ms = 1000 * (time.time() - started)
        Select(driver.find_element(By.ID, "config")).select_by_visible_text("mlp.toml")
        refusals = {
            "zero_neurons": refused_with(driver, "hidden", "0"),
            "nan_rate": refused_with(driver, "learning_rate", "NaN"),
        }
        # A batch larger than the training split: the command line's note, and it trains.
        field(driver, "batch_size", "100000")
        driver.find_element(By.ID, "start").click()
        wait_for(driver, "return window.digitsTrain.phase === 'running'", 30)
        big_batch_note = driver.execute_script("return window.digitsTrain.note")
        driver.find_element(By.ID, "reset").click()
        wait_for(driver, "return window.digitsTrain.phase === 'idle'", 30)
        field(driver, "batch_size", "")

        field(driver, "epochs", str(epochs))
        driver.find_element(By.ID, "start").click()
        wait_for(driver, "return window.digitsTrain.phase === 'running'", 30)
        initial = driver.execute_script("return window.digitsTrain.initialFirstLayer")
        wait_for(driver, "return window.digitsTrain.epochs.length >= 1", 120)
        # Pause stops the step count; Step takes one; Resume goes on.
        driver.find_element(By.ID, "pause").click()
        wait_for(driver, "return window.digitsTrain.phase === 'paused'", 30)
        paused = driver.execute_script("return window.digitsTrain.stepsDone")
        time.sleep(0.5)
        still = driver.execute_script("return window.digitsTrain.stepsDone")
        driver.find_element(By.ID, "step").click()
        wait_for(driver, f"return window.digitsTrain.stepsDone === {paused + 1}", 30)
        stepped = driver.execute_script("return window.digitsTrain.stepsDone")
        driver.find_element(By.ID, "start").click()
        wait_for(driver, "return window.digitsTrain.phase === 'running'", 30)
        # A drawing read while it trains.
        wait_for(driver, "return window.digitsTrain.epochs.length >= 2", 120)
        draw_one(driver)
        wait_for(driver, "return window.digitsTrain.readings > 0", 30)
        reading = driver.execute_script(
            "const s = window.digitsTrain; return {readings: s.readings, lastMs: s.lastReadMs,"
            " maxMs: s.maxReadMs, digit: s.reading && s.reading.digit, phase: s.phase,"
            " epoch: s.epoch}"
        )
        wait_for(driver, "return window.digitsTrain.phase === 'done'", 300)
        # The whole page, not the first screen (which ended inside the drawing panel).
        height, chrome = driver.execute_script(
            "return [document.documentElement.scrollHeight, outerHeight - innerHeight]"
        )
        driver.set_window_size(1280, height + chrome)
        driver.save_screenshot(f"{out_dir}/train-page.png")
        shown = {
            "status": driver.find_element(By.ID, "status").text,
            "weights": len(driver.find_elements(By.CSS_SELECTOR, "#weights canvas")),
            "tests": len(driver.find_elements(By.CSS_SELECTOR, "#tests figure")),
            "norms": len(driver.find_elements(By.CSS_SELECTOR, "#norms .norm")),
            "reading_link": len(driver.find_elements(By.ID, "reading-link")),
            # Charts drawn: some pixel of each is not blank.
            "charts_drawn": driver.execute_script(
                "return ['loss-chart', 'accuracy-chart', 'norms-chart'].map(id => {"
                " const c = document.getElementById(id);"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " let colour = 0; for (let i = 0; i < d.length; i += 4)"
                "  if (d[i + 3] && (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2])) colour++;"
                " return colour; })"
            ),
        }
        driver.find_element(By.ID, "download").click()
        wait_for(driver, "return window.digitsTrain.run !== null", 60)
        run = driver.execute_script(
            "const b = window.digitsTrain.run; let s = '';"
            " for (let i = 0; i < b.length; i += 8192)"
            "  s += String.fromCharCode.apply(null, b.subarray(i, i + 8192));"
            " return btoa(s)"
        )
        with open(f"{out_dir}/run.tar", "wb") as tar:
            tar.write(base64.b64decode(run))
        state = driver.execute_script(
            "const s = window.digitsTrain; return {epochs: s.epochs, imagesPerSecond:"
            " s.imagesPerSecond, frames: s.frames, framesPerSecond: 1000 * s.frames / s.framesMs,"
            " maxFrameGapMs: s.maxFrameGapMs,"
            " parameters: s.parameters, errors: s.errors, stepsDone: s.stepsDone}"
        )
        worker = driver.execute_script("return window.digitsTrain.workerResources")
        foreign = foreign_resources(driver, worker)
        errors = console_errors(driver)
    finally:
        driver.quit()
    print(
        json.dumps(
            {
                "load_ms": load_ms,
                "refusals": refusals,
                "big_batch_note": big_batch_note,
                "initial_first_layer": initial,
                "pause": {"paused": paused, "half_a_second_later": still, "stepped": stepped},
                "reading": reading,
                "shown": shown,
                "state": state,
                "foreign_resources": foreign,
                "console_errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 10)
