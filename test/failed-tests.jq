# Names each failed test of one vitest JSON report (`jq -r --arg run NAME -f`),
# with the first line of its message under it. A file whose set-up failed
# fails none of its tests (vitest skips them), so it is named on its own, once.
# Every failure is one line starting with "failed (", which the callers count.
def first_line: ((. // "") | split("\n")[0] // "(no message)") | .[0:300];
.testResults[] | (.name | sub(".*/test/"; "test/")) as $file
| ([.assertionResults[] | select(.status == "failed")]) as $failed
| if ($failed | length) > 0 then
    $failed[] | "failed (\($run)): \($file) > \(.fullName)\n  \(.failureMessages[0] | first_line)"
  elif .status == "failed" then
    "failed (\($run)): \($file), before any test\n  \(.message | first_line)"
  else empty end
