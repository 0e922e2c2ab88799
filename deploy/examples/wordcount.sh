#!/bin/sh
# Map-reduce on a local cluster: the words of a corpus counted. The map is
# the wordfreq plugin (word frequencies of one chunk of text), on two
# workers; the reduce is --reduce count-words at the master's sink. The
# corpus defaults to the licence texts every Debian system ships. The job,
# results and summary go to the build directory (or TASKMILL_WORK_DIR).
#
#   deploy/examples/wordcount.sh [FILE_OR_DIR...]   (after deploy/build.sh build)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${TASKMILL_BIN:-$top/build}
work=${TASKMILL_WORK_DIR:-$build}
[ $# -gt 0 ] || set -- /usr/share/common-licenses
job=$work/wordcount.jsonl
# One task per 100 lines of text, as JSON Lines; the corpus's size on stderr.
python3 - "$@" > "$job" <<'PY'
import json, os, sys
paths, size, tasks = [], 0, 0
for arg in sys.argv[1:]:
    if os.path.isdir(arg):
        paths += sorted(os.path.join(arg, n) for n in os.listdir(arg)
                        if os.path.isfile(os.path.join(arg, n)))
    else:
        paths.append(arg)
for path in paths:
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    size += os.path.getsize(path)
    for start in range(0, len(lines), 100):
        tasks += 1
        print(json.dumps({"id": "%s:%d" % (os.path.basename(path), start + 1),
                          "type": "wordfreq", "payload": "".join(lines[start:start + 100])}))
print("map: %d chunks of %d files (%d bytes)" % (tasks, len(paths), size), file=sys.stderr)
PY
exec "$top/deploy/local-cluster.sh" "$job" --workers 2 \
    --worker-arg --plugin --worker-arg "$build/worker/plugins/libtaskmill_wordfreq.so" \
    --out "$work/wordcount-results.jsonl" --summary "$work/wordcount-summary.json" \
    --reduce count-words
