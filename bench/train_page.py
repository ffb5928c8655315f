"""Training speed of the training page (`digits web`'s train.html) in headless Chromium: for each
config, the page trains EPOCHS epochs in its Web Worker; prints one JSON line per config with the
images per second of each epoch's training steps (scoring excluded) and the test accuracy.

    python bench/train_page.py URL EPOCHS CONFIG...     # URL: the site's address, .../train.html

Needs Selenium, Debian's chromium and chromium-driver (web/requirements.txt). Not a test: the
numbers for docs/GUIDE.md's table (bench/train_page.sh builds and serves the site).
"""

import json
import os
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "web"))
from check_page import browser, wait_for  # noqa: E402


def main(url, epochs, configs):
    driver = browser()
    try:
        driver.get(url)
        wait_for(driver, "return window.digitsTrain && window.digitsTrain.ready", 120)
        for config in configs:
            Select(driver.find_element(By.ID, "config")).select_by_visible_text(config)
            epochs_field = driver.find_element(By.ID, "epochs")
            epochs_field.clear()
            epochs_field.send_keys(str(epochs))
            driver.find_element(By.ID, "start").click()
            wait_for(driver, "return window.digitsTrain.phase === 'done'", 1800)
            state = driver.execute_script(
                "const s = window.digitsTrain; return {epochs: s.epochs, parameters:"
                " s.parameters, fps: 1000 * s.frames / s.framesMs, maxGap: s.maxFrameGapMs}"
            )
            print(
                json.dumps(
                    {
                        "config": config,
                        "parameters": state["parameters"],
                        "images_per_second": [round(e["images_per_second"]) for e in state["epochs"]],
                        "test_accuracy": [e["test"]["accuracy"] for e in state["epochs"]],
                        "frames_per_second": state["fps"],
                        "longest_frame_gap_ms": state["maxGap"],
                    }
                ),
                flush=True,
            )
            driver.find_element(By.ID, "reset").click()
            wait_for(driver, "return window.digitsTrain.phase === 'idle'", 60)
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
