#!/usr/bin/env bash
# meshfs serve: the read-only catalog page.  Two domains, commits, a tag,
# a CSV file; headless chromium loads the index, a domain page, the log,
# a diff, the file browser and the CSV preview, through the mount and
# then on the store directly.  Requests without the token get 403; a
# non-loopback --listen is refused; the search finds a domain by a word
# of its description.  Screenshots go to BUILD/artifacts/.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || true)
[[ -n $CHROMIUM ]] || fail "chromium is missing (apt-get install chromium)"
ARTIFACTS=$(dirname "$MESHFS_BIN")/artifacts
SERVE_PID=
CHROME_PID=
CHROME_RUNS=0

serve_cleanup() {
	local rc=$?
	if [[ -n $CHROME_PID ]]; then
		kill "$CHROME_PID" 2>/dev/null
		wait "$CHROME_PID" 2>/dev/null
	fi
	if [[ -n $SERVE_PID ]]; then
		kill "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
	fi
	return $rc
}

mesh_setup
trap 'rc=$?; serve_cleanup || true; _mesh_cleanup "$rc"' EXIT
mkdir -p "$ARTIFACTS"

# serve_start ARGS...: starts meshfs serve on a free port (the kernel's
# pick: --listen 127.0.0.1:0) and sets URL (with the token) and BASE.
serve_start() {
	local i
	"$MESHFS_BIN" serve --listen 127.0.0.1:0 "$@" >"$MESH_TMP/serve.out" \
		2>"$MESH_TMP/serve.err" </dev/null &
	SERVE_PID=$!
	for ((i = 0; i < 100; i++)); do
		URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/?token=[0-9a-f]*' "$MESH_TMP/serve.out" || true)
		[[ -n $URL ]] && break
		kill -0 "$SERVE_PID" 2>/dev/null ||
			fail "meshfs serve exited early: $(cat "$MESH_TMP/serve.err")"
		sleep 0.1
	done
	[[ -n $URL ]] || fail "meshfs serve printed no URL within 10 s"
	[[ $URL =~ token=[0-9a-f]{32}$ ]] || fail "the token is not 128 bits of hex: $URL"
	BASE=${URL%%/?token=*}
	TOKEN=${URL##*token=}
}

# serve_stop: SIGTERM; the server exits 0 with no sanitizer report.
serve_stop() {
	local rc=0
	kill "$SERVE_PID"
	wait "$SERVE_PID" || rc=$?
	SERVE_PID=
	[[ $rc -eq 0 ]] || fail "meshfs serve exited $rc on SIGTERM: $(cat "$MESH_TMP/serve.err")"
	if grep -qE "$_MESH_SANITIZER_RE" "$MESH_TMP/serve.err"; then
		fail "meshfs serve reported a sanitizer error: $(head -60 "$MESH_TMP/serve.err")"
	fi
}

# chrome ARGS... URL: headless chromium with a fresh profile; stdout to
# $MESH_TMP/chrome.out.
chrome() {
	local rc=0
	CHROME_RUNS=$((CHROME_RUNS + 1))
	timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-extensions --disable-background-networking \
		--user-data-dir="$MESH_TMP/chrome-$CHROME_RUNS" "$@" \
		>"$MESH_TMP/chrome.out" 2>"$MESH_TMP/chrome.err" &
	CHROME_PID=$!
	wait "$CHROME_PID" || rc=$?
	CHROME_PID=
	[[ $rc -eq 0 ]] || fail "chromium exited $rc: $(tail -5 "$MESH_TMP/chrome.err")"
}

# dom PATH?QUERY: the DOM chromium shows for BASE/PATH with the token.
dom() {
	local sep='?'
	[[ $1 == *\?* ]] && sep='&'
	chrome --dump-dom "$BASE$1${sep}token=$TOKEN"
	cat "$MESH_TMP/chrome.out"
}

shot() {
	local sep='?'
	[[ $2 == *\?* ]] && sep='&'
	chrome --screenshot="$ARTIFACTS/serve_$1.png" --window-size=1200,900 \
		"$BASE$2${sep}token=$TOKEN"
	[[ -s $ARTIFACTS/serve_$1.png ]] || fail "no screenshot $ARTIFACTS/serve_$1.png"
}

# http PATH [COOKIE]: status and body through python's urllib, without
# the token unless PATH has it: sets RC (the HTTP status) and OUT.
http() {
	OUT=$("$PY" - "$BASE$1" "${2:-}" <<'EOF'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1])
if sys.argv[2]:
    req.add_header("Cookie", sys.argv[2])
try:
    with urllib.request.urlopen(req, timeout=20) as r:
        body, status = r.read(), r.status
except urllib.error.HTTPError as e:
    body, status = e.read(), e.code
print(status)
sys.stdout.write(body.decode("utf-8", "replace"))
EOF
)
	RC=${OUT%%$'\n'*}
	OUT=${OUT#*$'\n'}
}

mesh_domain sales $'Orders & invoices of the <b>shop</b>, caf\xc3\xa9 \xff'
mesh_domain weather "Hourly temperature readings from the rooftop stations"
mesh_mount
B=$MNT/sales/main
printf 'id,city,note\n1,"Paris, FR",plain\n2,Berlin,"say ""hi"""\n3,"Multi\nline",x\n' \
	>"$B/orders.csv"
mkdir "$B/docs"
echo "hello docs" >"$B/docs/readme.txt"
echo '<script>alert(1)</script>' >"$B/page.html"
c1=$(mesh_commit sales/main "first orders")
mesh_ctl_ok "tag create sales/v1 main" >/dev/null
echo '4,Rome,late' >>"$B/orders.csv"
echo "new" >"$B/caf"$'\xc3\xa9 \xff'.txt
head -c $((9 << 20)) /dev/zero >"$B/big.bin"
c2=$(mesh_commit sales/main "more orders from Rome")
echo "w" >"$MNT/weather/main/t.csv"
mesh_commit weather/main "readings" >/dev/null

note "refused: a non-loopback --listen, bad arguments"
run "$MESHFS_BIN" serve --listen 0.0.0.0:0
assert_eq 2 "$RC" "exit status of serve --listen 0.0.0.0:0"
assert_contains "$ERR" "loopback only" "serve --listen 0.0.0.0:0"
run "$MESHFS_BIN" serve --listen 192.168.1.1:8080
assert_eq 2 "$RC" "exit status of serve --listen 192.168.1.1:8080"
assert_contains "$ERR" "not on 192.168.1.1" "serve --listen 192.168.1.1:8080"
run "$MESHFS_BIN" serve --listen '[::]:0'
assert_eq 2 "$RC" "exit status of serve --listen [::]:0"
run "$MESHFS_BIN" serve --bogus
assert_eq 2 "$RC" "exit status of serve --bogus"
run "$MESHFS_BIN" serve --listen 127.0.0.1:0 --mount "$MESH_TMP"
assert_eq 1 "$RC" "exit status of serve --mount of a plain directory"
assert_contains "$ERR" "is not a meshfs mount" "serve --mount of a plain directory"

note "through the mount: the token"
serve_start --mount "$MNT"
http "/"
assert_eq 403 "$RC" "status without a token"
assert_not_contains "$OUT" "sales" "the 403 page"
http "/?token=0123456789abcdef0123456789abcdef"
assert_eq 403 "$RC" "status with a wrong token"
http "/domain?d=sales" "meshfs_token_${BASE##*:}=$TOKEN"
assert_eq 200 "$RC" "status with the token's cookie"
assert_contains "$OUT" "<td>v1</td>" "domain page by the cookie"
http "/static/csv.js"
assert_eq 403 "$RC" "status of a static file without the token"
http "/?token=$TOKEN"
assert_eq 200 "$RC" "status with ?token="
assert_contains "$OUT" "weather" "index through the mount"

note "through the mount: pages"
http "/tree?d=sales&ref=v1&path=docs/readme.txt&token=$TOKEN"
assert_eq 200 "$RC" "file page of docs/readme.txt at v1"
http "/raw?d=sales&ref=v1&path=docs/readme.txt&token=$TOKEN"
assert_eq 200 "$RC" "raw docs/readme.txt"
assert_eq "hello docs" "$OUT" "raw docs/readme.txt"
http "/raw?d=sales&ref=main&path=../weather/main/t.csv&token=$TOKEN"
assert_eq 400 "$RC" "a path with .. "
http "/tree?d=sales&ref=main&path=nope.txt&token=$TOKEN"
assert_eq 404 "$RC" "a missing file"
http "/log?d=nope&ref=main&token=$TOKEN"
assert_eq 404 "$RC" "the log of a missing domain"
page=$(dom "/tree?d=sales&ref=main&path=orders.csv")
assert_contains "$page" "<td>Paris, FR</td>" "CSV preview through the mount"
assert_contains "$page" "<td>Rome</td>" "CSV preview through the mount (row of c2)"
serve_stop
mesh_umount

note "on the store directly: pages in chromium"
serve_start --store "$STORE"
page=$(dom "/")
assert_contains "$page" "<a href=\"/domain?d=sales\">sales</a>" "index"
assert_contains "$page" "weather" "index"
assert_contains "$page" "Orders &amp; invoices of the &lt;b&gt;shop&lt;/b&gt;, café \\xff" \
	"index: the description, escaped, its non-UTF-8 byte as \\xff"
assert_not_contains "$page" "<b>shop</b>" "index"
assert_contains "$page" "Hourly temperature readings" "index"
assert_contains "$page" "2 of 2 domains" "index"
shot index "/"

page=$(dom "/?q=rooftop")
assert_contains "$page" "weather" "search for rooftop"
assert_not_contains "$page" "domain?d=sales" "search for rooftop"
assert_contains "$page" "1 of 2 domains" "search for rooftop"
page=$(dom "/?q=INVOICES")
assert_contains "$page" "domain?d=sales" "search for INVOICES (any case)"
assert_not_contains "$page" "domain?d=weather" "search for INVOICES"

page=$(dom "/domain?d=sales")
assert_contains "$page" "Domain sales" "domain page"
assert_contains "$page" "<td>main</td>" "domain page: branches"
assert_contains "$page" "<td>v1</td>" "domain page: tags"
assert_contains "$page" "<code>${c1:0:12}</code>" "domain page: the tag's commit"
assert_contains "$page" "<code>${c2:0:12}</code>" "domain page: main's head"
shot domain "/domain?d=sales"

page=$(dom "/log?d=sales&ref=main")
assert_contains "$page" "more orders from Rome" "log of main"
assert_contains "$page" "first orders" "log of main"
page=$(dom "/log?d=sales&ref=v1")
assert_contains "$page" "first orders" "log of v1"
assert_not_contains "$page" "more orders from Rome" "log of v1"
shot log "/log?d=sales&ref=main"

page=$(dom "/diff?d=sales&from=v1&to=main")
assert_contains "$page" "orders.csv" "diff v1..main"
assert_contains "$page" "café \\xff.txt" "diff v1..main: the new file's name"
assert_contains "$page" "<td>changed</td>" "diff v1..main"
assert_contains "$page" "<td>added</td>" "diff v1..main"
assert_not_contains "$page" "readme.txt" "diff v1..main (unchanged)"
shot diff "/diff?d=sales&from=v1&to=main"

page=$(dom "/tree?d=sales&ref=v1")
assert_contains "$page" "docs/</a>" "file browser at v1"
assert_contains "$page" "orders.csv</a>" "file browser at v1"
assert_contains "$page" "page.html</a>" "file browser at v1"
assert_not_contains "$page" "café" "file browser at v1 (a file of c2)"
page=$(dom "/tree?d=sales&ref=main&path=docs")
assert_contains "$page" "readme.txt</a>" "file browser of docs"
shot files "/tree?d=sales&ref=main"

page=$(dom "/tree?d=sales&ref=main&path=orders.csv")
assert_contains "$page" "<th>city</th>" "CSV preview: the header"
assert_contains "$page" "<td>Paris, FR</td>" "CSV preview: a quoted comma"
assert_contains "$page" "<td>say \"hi\"</td>" "CSV preview: a doubled quote"
assert_contains "$page" "<td>Multi"$'\n'"line</td>" "CSV preview: a quoted newline"
assert_contains "$page" "<td>Rome</td>" "CSV preview: the last row"
shot csv "/tree?d=sales&ref=main&path=orders.csv"

note "raw files are text/plain and sandboxed"
HEADERS=$("$PY" - "$BASE/raw?d=sales&ref=main&path=page.html&token=$TOKEN" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=20) as r:
    print(r.headers["Content-Type"]); print(r.headers["Content-Security-Policy"])
    print(r.read().decode())
EOF
)
assert_contains "$HEADERS" "text/plain" "Content-Type of a raw HTML file"
assert_contains "$HEADERS" "sandbox" "CSP of a raw file"
assert_contains "$HEADERS" "<script>alert(1)</script>" "the raw file"
note "a name that is not UTF-8 links to its file; the raw size cap"
http "/raw?d=sales&ref=main&path=caf%C3%A9%20%FF.txt&token=$TOKEN"
assert_eq 200 "$RC" "raw of the file with a 0xff byte in its name"
assert_eq "new" "$OUT" "raw of the file with a 0xff byte in its name"
page=$(dom "/tree?d=sales&ref=main")
assert_contains "$page" 'href="/tree?d=sales&amp;ref=main&amp;path=caf%C3%A9%20%FF.txt"' \
	"the link of the file with a 0xff byte in its name"
http "/raw?d=sales&ref=main&path=big.bin&token=$TOKEN"
assert_eq 413 "$RC" "raw of a 9 MiB file"
assert_contains "$OUT" "more than the 8 MiB" "raw of a 9 MiB file"
http "/tree?d=sales&ref=main&path=big.bin&token=$TOKEN"
assert_eq 200 "$RC" "file page of a 9 MiB file"
assert_contains "$OUT" "9437184 bytes" "file page of a 9 MiB file"
http "/"
assert_eq 403 "$RC" "status without a token, on the store"
serve_stop

note "on the store, the domain's rules hold as through the mount: a sensitive path"
# A user who may open the store (it is theirs) is no administrator
# without root squash: docs (and all below) is for group srv_docs, which they are not in.
mesh_on_exit "userdel srv_user >/dev/null 2>&1 || true"
mesh_on_exit "groupdel srv_docs >/dev/null 2>&1 || true"
groupadd srv_docs && useradd -M -N -g users srv_user || fail "useradd srv_user"
mesh_cli domain restrict sales docs --group srv_docs >/dev/null
chown -R srv_user "$STORE"
chmod 755 "$MESH_TMP"
"$MESHFS_BIN" help >/dev/null   # the binary is reachable for the user
serve_start_as() {
	setpriv --reuid srv_user --regid users --init-groups "$MESHFS_BIN" serve \
		--listen 127.0.0.1:0 --store "$STORE" >"$MESH_TMP/serve.out" 2>"$MESH_TMP/serve.err" </dev/null &
	SERVE_PID=$!
	for ((i = 0; i < 100; i++)); do
		URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/?token=[0-9a-f]*' "$MESH_TMP/serve.out" || true)
		[[ -n $URL ]] && break
		sleep 0.1
	done
	[[ -n $URL ]] || fail "meshfs serve as srv_user printed no URL: $(cat "$MESH_TMP/serve.err")"
	BASE=${URL%%/?token=*}
	TOKEN=${URL##*token=}
}
serve_start_as
http "/raw?d=sales&ref=main&path=docs/readme.txt&token=$TOKEN"
assert_eq 403 "$RC" "raw of a sensitive file for a non-member, on the store"
assert_not_contains "$OUT" "hello docs" "what a non-member is shown"
http "/tree?d=sales&ref=main&path=docs&token=$TOKEN"
assert_eq 403 "$RC" "listing of a sensitive directory for a non-member, on the store"
http "/raw?d=sales&ref=main&path=orders.csv&token=$TOKEN"
assert_eq 200 "$RC" "raw of an ordinary file for the same user"
serve_stop
chown -R root "$STORE"
note "screenshots in $ARTIFACTS"
