// Package browsertest drives a headless Chromium for tests of the web
// console: it finds the browser (skipping the test without one), starts
// it with one tab, runs chromedp steps with time limits, waits for
// JavaScript conditions, saves screenshots and fails the test on page
// exceptions and Content-Security-Policy violations.
package browsertest
