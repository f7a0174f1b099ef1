"""How fast the study's participant page answers a click: the time from a click to the next pair on
screen (the browser's own clock), over one session answered in headless Chromium.

    python benchmarks/bench_study.py STUDY_FOLDER

STUDY_FOLDER: a study made with `benchmark study create` (its answers database gets one session).
"""

import argparse
import shutil
import statistics
import sys
import threading

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from pconvkit.benchmark.study_server import create_app


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study")
    args = parser.parse_args()
    server = make_server("127.0.0.1", 0, create_app(args.study), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or sys.exit("needs Debian's chromium and chromium-driver")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    wait = WebDriverWait(driver, 30, poll_frequency=0.01)
    try:
        driver.get(f"http://127.0.0.1:{server.server_port}/")
        driver.find_element(By.ID, "start").click()
        answered = 0
        while True:
            wait.until(lambda d: "/done" in d.current_url or d.execute_script("return document.body.dataset.shown"))
            if "/done" in driver.current_url:
                break
            if driver.execute_script("return current.duration_ms"):
                wait.until(lambda d: d.execute_script("return document.body.dataset.hidden"))
            latencies = driver.execute_script("return document.body.dataset.latency || ''")
            driver.execute_script("delete document.body.dataset.shown; delete document.body.dataset.hidden")
            driver.find_element(By.ID, "choose-left").click()
            answered += 1
        values = [float(v) for v in latencies.split(",") if v]
    finally:
        driver.quit()
        server.shutdown()
    print(
        f"{answered} trials answered; click to next pair on screen: median {statistics.median(values):.1f} ms, "
        f"max {max(values):.1f} ms over {len(values)} clicks"
    )


if __name__ == "__main__":
    main()
