# Sourced by .ci/run: Debian's Chromium for the browser test of the web chat page
# (tests/channels/test_webchat_browser.py, driven by Playwright from the actions environment;
# Playwright never downloads a browser of its own). With CI=true that test fails without it.
if [ ! -x /usr/bin/chromium ]; then
  echo "ci-chromium: installing Chromium from Debian"
  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
    || echo "ci-chromium: WARNING: Chromium could not be installed; the browser test will fail" >&2
fi
