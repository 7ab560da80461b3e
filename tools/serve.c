/*
 * serve.c - `meshfs serve` (serve.h): server-rendered HTML over
 * libmicrohttpd, one request at a time on its internal thread.
 *
 * Security model, as Jupyter's: loopback only, and a 128-bit random
 * token in the printed URL; a request carries it in ?token= (which sets
 * a cookie) or in that cookie, anything else is 403.  Every byte that
 * comes from the store is HTML-escaped; raw files go out as text/plain
 * with nosniff and a sandboxing CSP, so a stored HTML file cannot run
 * in the page's origin.
 */
#include "serve.h"
#include "access.h"
#include "audit.h"
#include "array.h"
#include "control.h"
#include "ctlclient.h"
#include "domain.h"
#include "error.h"
#include "file.h"
#include "history.h"
#include "json.h"
#include "jsonread.h"
#include "oid.h"
#include "store.h"
#include "view.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_BYTES 16
#define TOKEN_HEX (2 * TOKEN_BYTES)
#define DEFAULT_LISTEN "127.0.0.1:8765"
#define RAW_MAX (8u << 20)          /* bytes of a file served raw */
#define CSV_PREVIEW_BYTES (256u << 10)
#define CSV_PREVIEW_ROWS 50
#define LOG_MAX "200"               /* commits on a log page */
#define LIST_MAX 10000              /* entries of a directory page */

typedef struct server {
	const char *store;
	const char *mount;          /* fixed by --mount, else looked up per request */
	int log_level;
	char token[TOKEN_HEX + 1];
	char cookie_name[32];       /* per port: cookies ignore ports */
} server;

/* --- building a page ------------------------------------------------- */

/* A growing buffer; on out-of-memory it stops growing and says so. */
typedef struct page {
	char *buf;
	size_t len, cap;
	bool oom;
} page;

static void put_n(page *p, const char *s, size_t n)
{
	/* One byte more for the NUL, so the buffer is always a string. */
	while (!p->oom && p->cap < p->len + n + 1)
		p->oom = mesh_array_grow(&p->buf, &p->cap, p->cap, 1) < 0;
	if (p->oom)
		return;
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static void put(page *p, const char *s)
{
	put_n(p, s, strlen(s));
}

/* Only for text the server itself makes (numbers, fixed markup). */
__attribute__((format(printf, 2, 3)))
static void putf(page *p, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put_n(p, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/*
 * Text for HTML, in an element or a quoted attribute.  Names are bytes:
 * valid UTF-8 is kept, any other byte and any control character but tab
 * and newlines shows as \xNN, so nothing is lost silently to U+FFFD.
 */
static void put_html_n(page *p, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s, *end = u + len;
	char esc[8];

	while (u < end) {
		size_t n = *u ? mesh_json_utf8_sequence(u) : 0;
		if (n > (size_t)(end - u))
			n = 0;
		switch (*u) {
		case '&': put(p, "&amp;"); u++; continue;
		case '<': put(p, "&lt;"); u++; continue;
		case '>': put(p, "&gt;"); u++; continue;
		case '"': put(p, "&quot;"); u++; continue;
		case '\'': put(p, "&#39;"); u++; continue;
		case '\t': case '\n': case '\r': put_n(p, (const char *)u, 1); u++; continue;
		}
		if (n == 0 || *u < 0x20 || *u == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *u);
			put(p, esc);
			u++;
		} else {
			put_n(p, (const char *)u, n);
			u += n;
		}
	}
}

static void put_html(page *p, const char *s)
{
	put_html_n(p, s ? s : "", s ? strlen(s) : 0);
}

/* A query value: every byte but the unreserved ones percent-encoded
 * (the result needs no HTML escaping either). */
static void put_arg(page *p, const char *s)
{
	char esc[4];

	for (const unsigned char *u = (const unsigned char *)(s ? s : ""); *u; u++) {
		if (isalnum(*u) || *u == '-' || *u == '.' || *u == '_' || *u == '~') {
			put_n(p, (const char *)u, 1);
		} else {
			snprintf(esc, sizeof(esc), "%%%02X", *u);
			put(p, esc);
		}
	}
}

static void put_time(page *p, double t)
{
	char when[64];
	time_t secs = (time_t)t;
	struct tm tm;

	if (gmtime_r(&secs, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm))
		put(p, when);
}

static void put_short_id(page *p, const char *hex)
{
	put_html_n(p, hex ? hex : "", hex && strlen(hex) > 12 ? 12 : (hex ? strlen(hex) : 0));
}

static void page_head(page *p, const char *title)
{
	put(p, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	       "<title>");
	put_html(p, title);
	put(p, " - meshfs</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
	       "</head><body><header><a href=\"/\">meshfs catalog</a>"
	       "<form action=\"/\" method=\"get\"><input type=\"search\" name=\"q\" "
	       "placeholder=\"search domains\" aria-label=\"search domains\">"
	       "<button>Search</button></form></header><main>\n");
}

static void page_tail(page *p)
{
	put(p, "</main></body></html>\n");
}

/* --- responses ------------------------------------------------------- */

static enum MHD_Result send_bytes(struct MHD_Connection *conn, unsigned status,
				  const char *type, char *body, size_t len,
				  const char *set_cookie, bool sandbox)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy", sandbox ?
		"sandbox; default-src 'none'" :
		"default-src 'none'; style-src 'self'; script-src 'self'; "
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
	if (set_cookie)
		MHD_add_response_header(r, "Set-Cookie", set_cookie);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_page(struct MHD_Connection *conn, unsigned status, page *p,
				 const char *set_cookie)
{
	if (p->oom) {
		free(p->buf);
		return MHD_NO;
	}
	return send_bytes(conn, status, "text/html; charset=utf-8", p->buf, p->len,
			  set_cookie, false);
}

/* The HTTP status of a control command's error name. */
static unsigned status_of(const char *error)
{
	if (!error)
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	if (!strcmp(error, "ENOENT"))
		return MHD_HTTP_NOT_FOUND;
	if (!strcmp(error, "EACCES") || !strcmp(error, "EPERM"))
		return MHD_HTTP_FORBIDDEN;
	if (!strcmp(error, "EINVAL") || !strcmp(error, "ENAMETOOLONG") ||
	    !strcmp(error, "ENOTDIR") || !strcmp(error, "EISDIR"))
		return MHD_HTTP_BAD_REQUEST;
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status,
				  const char *message, const char *set_cookie)
{
	page p = { 0 };

	page_head(&p, "error");
	putf(&p, "<h1>Error %u</h1><p class=\"error\">", status);
	put_html(&p, message);
	put(&p, "</p>");
	page_tail(&p);
	return send_page(conn, status, &p, set_cookie);
}

/* --- the data: control commands -------------------------------------- */

/*
 * Runs the command of the given words (NULL-terminated) as the CLI would
 * and parses its answer.  NULL with *status and message (malloc'd, the
 * caller frees) when it failed.
 */
static json_value *ask_words(const server *s, unsigned *status, char **message, int argc,
			     char **words)
{
	char mount[PATH_MAX], store[PATH_MAX];
	char *line, *answer = NULL;
	json_value *a = NULL;
	int code = 0, error;
	const char *mount_used = s->mount;

	*message = NULL;
	if (!(line = mesh_ctl_command_line(argc, words))) {
		*status = MHD_HTTP_BAD_REQUEST;
		*message = strdup(mesh_error_message());
		return NULL;
	}
	if (!mount_used && mesh_ctl_find_mount(s->store, NULL, mount, store) == 0)
		mount_used = mount;
	error = mount_used ? mesh_ctl_run_via_mount(mount_used, line, &answer, &code)
			   : mesh_ctl_run_on_store(s->store, s->log_level, line, &answer, &code);
	free(line);
	if (error == 0 && !(a = json_parse(answer)))
		mesh_error_set(MESH_EIO, "unreadable answer of the control command");
	free(answer);
	if (!a) {
		*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		*message = strdup(mesh_error_message());
		return NULL;
	}
	if (code != 0 || !json_get(a, "ok") || !json_get(a, "ok")->boolean) {
		*status = status_of(json_str(a, "error", NULL));
		*message = strdup(json_str(a, "message", "the command failed"));
		json_free(a);
		return NULL;
	}
	return a;
}

static json_value *ask(const server *s, unsigned *status, char **message, ...)
{
	char *words[16];
	int argc = 0;
	va_list ap;

	va_start(ap, message);
	while (argc < 15 && (words[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	return ask_words(s, status, message, argc, words);
}

static const json_value *member_array(const json_value *a, const char *key)
{
	const json_value *v = json_get(a, key);

	return v && v->type == JSON_ARRAY ? v : NULL;
}

/* --- pages: index and domain ------------------------------------------ */

static void domain_link(page *p, const char *name)
{
	put(p, "<a href=\"/domain?d=");
	put_arg(p, name);
	put(p, "\">");
	put_html(p, name);
	put(p, "</a>");
}

static void domain_row(page *p, const json_value *d)
{
	put(p, "<tr><td>");
	domain_link(p, json_str(d, "name", ""));
	put(p, "</td><td>");
	put_html(p, json_str(d, "description", ""));
	put(p, "</td><td>");
	put_html(p, json_str(d, "owner", ""));
	put(p, "</td><td>");
	put_html(p, json_str(d, "default_branch", ""));
	put(p, "</td><td>");
	put_time(p, json_num(d, "created", 0));
	put(p, "</td></tr>\n");
}

/* The domains, or with a search (q) the catalog's hits among them, best
 * first; why_not says why a search found nothing to look for. */
static void page_index(page *p, const json_value *domains, const char *q,
		       const json_value *hits, const char *why_not)
{
	size_t shown = 0;

	page_head(p, "domains");
	put(p, "<h1>Domains</h1>");
	if (q && *q) {
		put(p, "<p class=\"search\">Search for <q>");
		put_html(p, q);
		put(p, "</q> in the catalog (cards, contracts, top-level paths), best first.");
		if (why_not) {
			put(p, " ");
			put_html(p, why_not);
		}
		put(p, "</p>");
	}
	put(p, "<table class=\"domains\"><thead><tr><th>Domain</th><th>Description</th>"
	       "<th>Owner</th><th>Default branch</th><th>Created</th></tr></thead><tbody>\n");
	for (size_t i = 0; !(q && *q) && domains && i < domains->count; i++, shown++)
		domain_row(p, domains->items[i]);
	for (size_t h = 0; q && *q && hits && h < hits->count; h++) {
		const char *name = json_str(hits->items[h], "domain", "");
		for (size_t i = 0; domains && i < domains->count; i++)
			if (!strcmp(json_str(domains->items[i], "name", ""), name)) {
				domain_row(p, domains->items[i]);
				shown++;
				break;
			}
	}
	put(p, "</tbody></table>");
	putf(p, "<p class=\"count\">%zu of %zu domains</p>", shown, domains ? domains->count : 0);
	page_tail(p);
}

static void ref_links(page *p, const char *domain, const char *ref)
{
	put(p, "<a href=\"/tree?d=");
	put_arg(p, domain);
	put(p, "&amp;ref=");
	put_arg(p, ref);
	put(p, "\">files</a> <a href=\"/log?d=");
	put_arg(p, domain);
	put(p, "&amp;ref=");
	put_arg(p, ref);
	put(p, "\">log</a>");
}

static void refs_table(page *p, const char *domain, const json_value *refs, const char *what)
{
	putf(p, "<h2>%s</h2>", what);
	if (!refs || refs->count == 0) {
		putf(p, "<p>No %s.</p>", what);
		return;
	}
	put(p, "<table class=\"refs\"><thead><tr><th>Name</th><th>Commit</th><th></th></tr>"
	       "</thead><tbody>\n");
	for (size_t i = 0; i < refs->count; i++) {
		const char *name = json_str(refs->items[i], "name", "");
		put(p, "<tr><td>");
		put_html(p, name);
		put(p, "</td><td><code>");
		put_short_id(p, json_str(refs->items[i], "commit", ""));
		put(p, "</code></td><td>");
		ref_links(p, domain, name);
		put(p, "</td></tr>\n");
	}
	put(p, "</tbody></table>");
}

static void page_domain(page *p, const json_value *d, const json_value *branches,
			const json_value *tags)
{
	const char *name = json_str(d, "name", ""), *def = json_str(d, "default_branch", "main");

	page_head(p, name);
	put(p, "<h1>Domain ");
	put_html(p, name);
	put(p, "</h1><dl class=\"card\"><dt>Description</dt><dd>");
	put_html(p, json_str(d, "description", ""));
	put(p, "</dd><dt>Owner</dt><dd>");
	put_html(p, json_str(d, "owner", ""));
	put(p, "</dd><dt>Default branch</dt><dd>");
	put_html(p, def);
	put(p, " (");
	ref_links(p, name, def);
	put(p, ")</dd><dt>Created</dt><dd>");
	put_time(p, json_num(d, "created", 0));
	put(p, "</dd></dl>");
	refs_table(p, name, branches, "Branches");
	refs_table(p, name, tags, "Tags");
	put(p, "<h2>Compare</h2><form action=\"/diff\" method=\"get\" class=\"compare\">"
	       "<input type=\"hidden\" name=\"d\" value=\"");
	put_html(p, name);
	put(p, "\"><label>from <input name=\"from\" required></label> "
	       "<label>to <input name=\"to\" value=\"");
	put_html(p, def);
	put(p, "\" required></label> <button>Diff</button></form>");
	page_tail(p);
}

/* --- pages: log and diff ---------------------------------------------- */

static void tree_href(page *p, const char *domain, const char *ref, const char *path)
{
	put(p, "/tree?d=");
	put_arg(p, domain);
	put(p, "&amp;ref=");
	put_arg(p, ref);
	if (path && *path) {
		put(p, "&amp;path=");
		put_arg(p, path);
	}
}

static void page_log(page *p, const char *domain, const char *ref, const json_value *commits)
{
	page_head(p, "log");
	put(p, "<h1>Log of ");
	domain_link(p, domain);
	put(p, "/");
	put_html(p, ref);
	put(p, "</h1><table class=\"log\"><thead><tr><th>Commit</th><th>Time</th>"
	       "<th>Author</th><th>Message</th><th></th></tr></thead><tbody>\n");
	for (size_t i = 0; commits && i < commits->count; i++) {
		const json_value *c = commits->items[i];
		const json_value *parents = member_array(c, "parents");
		const char *id = json_str(c, "id", "");
		put(p, "<tr><td><a href=\"");
		tree_href(p, domain, id, NULL);
		put(p, "\"><code>");
		put_short_id(p, id);
		put(p, "</code></a></td><td>");
		put_time(p, json_num(c, "time", 0));
		put(p, "</td><td>");
		put_html(p, json_str(c, "author", ""));
		put(p, "</td><td class=\"message\">");
		put_html(p, json_str(c, "message", ""));
		put(p, "</td><td>");
		if (parents && parents->count > 0 && parents->items[0]->type == JSON_STRING) {
			put(p, "<a href=\"/diff?d=");
			put_arg(p, domain);
			put(p, "&amp;from=");
			put_arg(p, parents->items[0]->string);
			put(p, "&amp;to=");
			put_arg(p, id);
			put(p, "\">diff</a>");
		}
		put(p, "</td></tr>\n");
	}
	put(p, "</tbody></table>");
	page_tail(p);
}

static void page_diff(page *p, const char *domain, const char *from, const char *to,
		      const json_value *changes)
{
	page_head(p, "diff");
	put(p, "<h1>Diff of ");
	domain_link(p, domain);
	put(p, ": ");
	put_html(p, from);
	put(p, " &rarr; ");
	put_html(p, to);
	put(p, "</h1>");
	if (!changes || changes->count == 0) {
		put(p, "<p>No changes.</p>");
		page_tail(p);
		return;
	}
	put(p, "<table class=\"diff\"><thead><tr><th>Path</th><th>Change</th><th>Kind</th>"
	       "<th>Old size</th><th>New size</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < changes->count; i++) {
		const json_value *c = changes->items[i];
		const char *path = json_str(c, "path", ""), *change = json_str(c, "change", "");
		bool removed = !strcmp(change, "removed");
		put(p, "<tr class=\"");
		put_html(p, change);
		put(p, "\"><td>");
		if (!removed) {
			put(p, "<a href=\"");
			tree_href(p, domain, to, path);
			put(p, "\">");
		}
		put_html(p, path);
		put(p, removed ? "</td><td>" : "</a></td><td>");
		put_html(p, change);
		put(p, "</td><td>");
		put_html(p, json_str(c, "kind", ""));
		put(p, "</td><td>");
		if (json_get(c, "old_size"))
			putf(p, "%.0f", json_num(c, "old_size", 0));
		put(p, "</td><td>");
		if (json_get(c, "new_size"))
			putf(p, "%.0f", json_num(c, "new_size", 0));
		put(p, "</td></tr>\n");
	}
	put(p, "</tbody></table>");
	page_tail(p);
}

/* --- the file browser ------------------------------------------------- */

/*
 * Files of one commit, read through the mount (MOUNT/DOMAIN/<id>/PATH,
 * with the kernel's permission checks) when one serves the store, else
 * through a commit view on the store opened for this request.
 */
typedef struct browse {
	char root[PATH_MAX];        /* mount case: MOUNT/DOMAIN/<id> */
	mesh_store *store;          /* store case */
	mesh_view *view;
} browse;

typedef struct browse_entry {
	char *name;
	bool is_dir;
	uint64_t size;
} browse_entry;

/* On the store the domain's rules are asked here, as the mount's open
 * and opendir ask them (the same core/access.c decision): the domain
 * must be visible, and a sensitive path's content (a file, or the
 * listing of a directory) needs its group. */
static int browse_may_read(browse *b, const char *path)
{
	mesh_caller self;

	mesh_caller_self(&self);
	return mesh_access_check(b->store, &self, mesh_view_domain(b->view), NULL,
				 MESH_ACCESS_READ, path);
}

static int browse_open(browse *b, const server *s, const char *domain, const char *commit_hex)
{
	char mount[PATH_MAX], store[PATH_MAX];
	const char *m = s->mount;
	mesh_log log = { .level = s->log_level };
	mesh_oid id;
	int error;

	memset(b, 0, sizeof(*b));
	if (mesh_oid_parse(&id, commit_hex) < 0 || mesh_domain_name_check(domain) < 0)
		return mesh_error_set(MESH_EINVAL, "bad domain or commit id");
	if (!m && mesh_ctl_find_mount(s->store, NULL, mount, store) == 0)
		m = mount;
	if (m) {
		if ((size_t)snprintf(b->root, sizeof(b->root), "%s/%s/%s", m, domain,
				     commit_hex) >= sizeof(b->root))
			return mesh_error_set(MESH_ENAMETOOLONG, "mount path too long");
		return 0;
	}
	if ((error = mesh_store_open(&b->store, s->store, &log)) < 0)
		return error;
	if ((error = mesh_view_open_commit(&b->view, b->store, domain, &id)) == 0 &&
	    (error = browse_may_read(b, NULL)) < 0) {
		mesh_view_free(b->view);
		b->view = NULL;
	}
	if (error < 0) {
		mesh_store_close(b->store);
		b->store = NULL;
	}
	return error;
}

static void browse_close(browse *b)
{
	if (b->view)
		mesh_view_free(b->view);
	if (b->store)
		mesh_store_close(b->store);
}

/* The mount's path of path: the view's rules (no "", ".", ".."
 * component) checked here, so no path leaves the commit's directory. */
static int mount_path(const browse *b, const char *path, char *out)
{
	const char *c = path;

	while (*path) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return mesh_error_set(MESH_EINVAL, "path %s has an empty, . or .. component",
					      path);
		if (!c[n])
			break;
		c += n + 1;
	}
	if ((size_t)snprintf(out, PATH_MAX, "%s%s%s", b->root, *path ? "/" : "", path) >= PATH_MAX)
		return mesh_error_set(MESH_ENAMETOOLONG, "path too long");
	return 0;
}

static int browse_stat(browse *b, const char *path, bool *is_dir, uint64_t *size)
{
	char full[PATH_MAX];
	mesh_view_entry e;
	struct stat st;
	int error;

	if (b->view) {
		if ((error = mesh_view_lookup(b->view, path, &e)) < 0)
			return error;
		*is_dir = e.kind == MESH_KIND_DIR;
		*size = e.size;
		return 0;
	}
	if ((error = mount_path(b, path, full)) < 0)
		return error;
	if (stat(full, &st) < 0)
		return mesh_error_os("cannot read", path);
	*is_dir = S_ISDIR(st.st_mode);
	*size = (uint64_t)st.st_size;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const browse_entry *)a)->name, ((const browse_entry *)b)->name);
}

static void entries_free(browse_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

static int list_mount(browse *b, const char *path, browse_entry **out, size_t *count)
{
	char full[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int error = mount_path(b, path, full);

	if (error < 0)
		return error;
	if (!(dir = opendir(full)))
		return mesh_error_os("cannot list", path);
	if (!(*out = calloc(LIST_MAX, sizeof(**out)))) {
		closedir(dir);
		return mesh_error_oom();
	}
	while (*count < LIST_MAX && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			memset(&st, 0, sizeof(st));
		(*out)[*count].is_dir = S_ISDIR(st.st_mode);
		(*out)[*count].size = (uint64_t)st.st_size;
		if (!((*out)[(*count)++].name = strdup(de->d_name)))
			error = mesh_error_oom();
	}
	closedir(dir);
	qsort(*out, *count, sizeof(**out), entry_cmp);
	return error;
}

/* The directory's entries, name-sorted, at most LIST_MAX. */
static int browse_list(browse *b, const char *path, browse_entry **out, size_t *count)
{
	mesh_view_dirent *d;
	size_t n;
	int error;

	*out = NULL;
	*count = 0;
	if (!b->view)
		return list_mount(b, path, out, count);
	if ((error = browse_may_read(b, path)) < 0 ||
	    (error = mesh_view_list(b->view, path, &d, &n)) < 0)
		return error;
	if (n > LIST_MAX)
		n = LIST_MAX;
	if (!(*out = calloc(n ? n : 1, sizeof(**out)))) {
		mesh_view_dirents_free(d, n);
		return mesh_error_oom();
	}
	for (size_t i = 0; i < n; i++) {
		(*out)[i].name = d[i].name;
		d[i].name = NULL;
		(*out)[i].is_dir = d[i].entry.kind == MESH_KIND_DIR;
		(*out)[i].size = d[i].entry.size;
	}
	*count = n;
	mesh_view_dirents_free(d, n);
	return 0;
}

/* A read on the store is an audit record, as a read through the mount
 * is (one there already): of this process's user, the page's reader. */
static void browse_audit(browse *b, const char *path, int error, uint64_t size)
{
	mesh_audit_event e = { .op = "read", .path = path, .result = error, .bytes = size,
			       .detail = "meshfs serve" };
	mesh_caller self;
	mesh_oid commit;

	mesh_caller_self(&self);
	mesh_view_commit_id(b->view, &commit);
	e.domain = mesh_view_domain(b->view);
	e.commit = &commit;
	mesh_audit_record(mesh_store_audit(b->store), &self, &e);
}

/* Up to max bytes from the start of a file into *out (malloc'd). */
static int browse_read(browse *b, const char *path, size_t max, char **out, size_t *len)
{
	char full[PATH_MAX];
	mesh_view_entry e;
	mesh_file_map *map;
	ssize_t n = 0;
	int error, fd;

	*len = 0;
	if (!(*out = malloc(max + 1)))
		return mesh_error_oom();
	if (b->view) {
		e.size = 0;
		if ((error = browse_may_read(b, path)) == 0 &&
		    (error = mesh_view_lookup(b->view, path, &e)) == 0 &&
		    (error = mesh_view_file_map(b->view, &e, &map)) == 0) {
			error = mesh_file_read(mesh_store_odb(b->store), mesh_store_cache(b->store),
					       map, *out, max, 0, len);
			mesh_file_map_free(map);
		}
		browse_audit(b, path, error, e.size);
	} else if ((error = mount_path(b, path, full)) == 0) {
		if ((fd = open(full, O_RDONLY)) < 0) {
			error = mesh_error_os("cannot read", path);
		} else {
			while (*len < max && (n = read(fd, *out + *len, max - *len)) > 0)
				*len += (size_t)n;
			if (n < 0)
				error = mesh_error_os("cannot read", path);
			close(fd);
		}
	}
	if (error < 0) {
		free(*out);
		*out = NULL;
	}
	return error;
}

static bool is_csv(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 && !strcasecmp(path + n - 4, ".csv");
}

static void breadcrumbs(page *p, const char *domain, const char *ref, const char *path)
{
	const char *c = path;

	domain_link(p, domain);
	put(p, " / <a href=\"");
	tree_href(p, domain, ref, NULL);
	put(p, "\">");
	put_html(p, ref);
	put(p, "</a>");
	while (*c) {
		size_t n = strcspn(c, "/");
		char *prefix = strndup(path, (size_t)(c - path) + n);
		put(p, " / <a href=\"");
		tree_href(p, domain, ref, prefix ? prefix : "");
		put(p, "\">");
		put_html_n(p, c, n);
		put(p, "</a>");
		free(prefix);
		if (!c[n])
			break;
		c += n + 1;
	}
}

static void page_dir(page *p, const char *domain, const char *ref, const char *path,
		     const browse_entry *e, size_t n)
{
	page_head(p, "files");
	put(p, "<h1 class=\"path\">");
	breadcrumbs(p, domain, ref, path);
	put(p, "</h1><table class=\"files\"><thead><tr><th>Name</th><th>Size</th></tr>"
	       "</thead><tbody>\n");
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(path) + strlen(e[i].name) + 2;
		char *child = malloc(len);
		if (!child) {
			p->oom = true;
			break;
		}
		snprintf(child, len, "%s%s%s", path, *path ? "/" : "", e[i].name);
		put(p, "<tr><td><a href=\"");
		tree_href(p, domain, ref, child);
		put(p, "\">");
		put_html(p, e[i].name);
		put(p, e[i].is_dir ? "/</a></td><td>" : "</a></td><td>");
		if (!e[i].is_dir)
			putf(p, "%llu", (unsigned long long)e[i].size);
		put(p, "</td></tr>\n");
		free(child);
	}
	put(p, "</tbody></table>");
	if (n == 0)
		put(p, "<p>Empty directory.</p>");
	page_tail(p);
}

static void raw_href(page *p, const char *domain, const char *ref, const char *path)
{
	put(p, "/raw?d=");
	put_arg(p, domain);
	put(p, "&amp;ref=");
	put_arg(p, ref);
	put(p, "&amp;path=");
	put_arg(p, path);
}

/*
 * The CSV preview: the first CSV_PREVIEW_BYTES of the file go into the
 * page as escaped text and /static/csv.js turns them into a table.  The
 * C side never parses CSV (no Debian CSV library is a dependency of
 * meshfs); the script's parser follows RFC 4180.
 */
static void page_file(page *p, const char *domain, const char *ref, const char *path,
		      uint64_t size, const char *head, size_t head_len)
{
	page_head(p, "file");
	put(p, "<h1 class=\"path\">");
	breadcrumbs(p, domain, ref, path);
	putf(p, "</h1><p class=\"fileinfo\">%llu bytes. <a href=\"", (unsigned long long)size);
	raw_href(p, domain, ref, path);
	put(p, "\">raw</a>");
	if (size > RAW_MAX)
		putf(p, " (only files up to %u MiB are served raw)", RAW_MAX >> 20);
	put(p, "</p>");
	if (head) {
		putf(p, "<h2>Preview: first %d rows</h2>"
			"<div id=\"csv-preview\" data-rows=\"%d\" data-truncated=\"%d\">"
			"<noscript>The table preview needs JavaScript; the raw file is above."
			"</noscript></div><pre id=\"csv-data\" hidden>",
		     CSV_PREVIEW_ROWS, CSV_PREVIEW_ROWS, size > head_len);
		put_html_n(p, head, head_len);
		put(p, "</pre><script src=\"/static/csv.js\"></script>");
	}
	page_tail(p);
}

/* --- static resources ------------------------------------------------- */

static const char style_css[] =
	"body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}\n"
	"header{display:flex;gap:2em;align-items:center;padding:.6em 1.5em;background:#24466b}\n"
	"header a{color:#fff;font-weight:bold;text-decoration:none}\n"
	"main{padding:1em 1.5em}\n"
	"table{border-collapse:collapse;margin:.5em 0;background:#fff}\n"
	"th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\n"
	"th{background:#eef2f6}\n"
	"td.message{white-space:pre-wrap}\n"
	"dl.card{display:grid;grid-template-columns:max-content auto;gap:.3em 1em;"
	"background:#fff;border:1px solid #ccc;padding:.8em;max-width:50em}\n"
	"dl.card dt{font-weight:bold}dl.card dd{margin:0}\n"
	"tr.added td:first-child{color:#176b1e}tr.removed td:first-child{color:#a12020}\n"
	".error{color:#a12020}\n"
	"code{font-size:.95em}\n";

/* RFC 4180: fields separated by commas, records by CRLF or LF; a field in
 * double quotes may hold commas, newlines and "" for a quote. */
static const char csv_js[] =
	"'use strict';\n"
	"(function () {\n"
	"  function parse(text, maxRows) {\n"
	"    var rows = [], row = [], field = '', i = 0, quoted = false, n = text.length;\n"
	"    while (i < n && rows.length < maxRows) {\n"
	"      var c = text[i];\n"
	"      if (quoted) {\n"
	"        if (c === '\"') {\n"
	"          if (text[i + 1] === '\"') { field += '\"'; i += 2; continue; }\n"
	"          quoted = false; i++; continue;\n"
	"        }\n"
	"        field += c; i++; continue;\n"
	"      }\n"
	"      if (c === '\"' && field === '') { quoted = true; i++; continue; }\n"
	"      if (c === ',') { row.push(field); field = ''; i++; continue; }\n"
	"      if (c === '\\r' && text[i + 1] === '\\n') { i++; continue; }\n"
	"      if (c === '\\n' || c === '\\r') {\n"
	"        row.push(field); rows.push(row); row = []; field = ''; i++; continue;\n"
	"      }\n"
	"      field += c; i++;\n"
	"    }\n"
	"    return { rows: rows, rest: i < n || field !== '' || row.length > 0 ? [row, field] : null };\n"
	"  }\n"
	"  var box = document.getElementById('csv-preview');\n"
	"  var data = document.getElementById('csv-data');\n"
	"  if (!box || !data) return;\n"
	"  var max = parseInt(box.dataset.rows, 10) + 1;\n"
	"  var result = parse(data.textContent, max);\n"
	"  var rows = result.rows;\n"
	"  if (result.rest && rows.length < max && box.dataset.truncated !== '1') {\n"
	"    result.rest[0].push(result.rest[1]); rows.push(result.rest[0]);\n"
	"  }\n"
	"  var table = document.createElement('table');\n"
	"  table.className = 'csv';\n"
	"  rows.forEach(function (r, k) {\n"
	"    var tr = document.createElement('tr');\n"
	"    r.forEach(function (v) {\n"
	"      var cell = document.createElement(k === 0 ? 'th' : 'td');\n"
	"      cell.textContent = v;\n"
	"      tr.appendChild(cell);\n"
	"    });\n"
	"    table.appendChild(tr);\n"
	"  });\n"
	"  box.textContent = '';\n"
	"  box.appendChild(table);\n"
	"})();\n";

static enum MHD_Result send_static(struct MHD_Connection *conn, const char *type,
				   const char *text, const char *set_cookie)
{
	char *body = strdup(text);

	if (!body)
		return MHD_NO;
	return send_bytes(conn, MHD_HTTP_OK, type, body, strlen(body), set_cookie, false);
}

/* --- routes ----------------------------------------------------------- */

static const char *arg(struct MHD_Connection *conn, const char *key)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result fail_with(struct MHD_Connection *conn, unsigned status, char *message,
				 const char *cookie)
{
	enum MHD_Result r = send_error(conn, status, message ? message : "out of memory", cookie);

	free(message);
	return r;
}

static enum MHD_Result route_index(const server *s, struct MHD_Connection *conn,
				   const char *cookie)
{
	unsigned status;
	char *msg;
	json_value *a = ask(s, &status, &msg, "domain", "list", NULL), *found = NULL;
	const char *q = arg(conn, "q");
	char *copy = NULL, *why_not = NULL, *save = NULL;
	page p = { 0 };

	if (!a)
		return fail_with(conn, status, msg, cookie);
	if (q && *q) {
		/* The words as the catalog takes them: what the CLI's
		 * `catalog search` finds, with the same rule of who sees what. */
		char *words[16] = { "catalog", "search" };
		int argc = 2;
		if (!(copy = strdup(q))) {
			json_free(a);
			return fail_with(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, cookie);
		}
		for (char *w = strtok_r(copy, " \t", &save); w && argc < 13;
		     w = strtok_r(NULL, " \t", &save))
			if (w[0] != '-')
				words[argc++] = w;
		words[argc++] = "--limit";
		words[argc++] = "1000";
		if (argc == 4)
			why_not = strdup("No word to look for.");
		else if (!(found = ask_words(s, &status, &why_not, argc, words)) &&
			 status != MHD_HTTP_BAD_REQUEST) {
			json_free(a);
			free(copy);
			return fail_with(conn, status, why_not, cookie);
		}
	}
	page_index(&p, member_array(a, "domains"), q, found ? member_array(found, "hits") : NULL,
		   why_not);
	json_free(found);
	json_free(a);
	free(copy);
	free(why_not);
	return send_page(conn, MHD_HTTP_OK, &p, cookie);
}

static enum MHD_Result route_domain(const server *s, struct MHD_Connection *conn,
				    const char *cookie, const char *d)
{
	unsigned status;
	char *msg;
	json_value *list, *branches, *tags;
	const json_value *domains, *found = NULL;
	page p = { 0 };

	if (!(list = ask(s, &status, &msg, "domain", "list", NULL)))
		return fail_with(conn, status, msg, cookie);
	domains = member_array(list, "domains");
	for (size_t i = 0; domains && i < domains->count && !found; i++)
		if (!strcmp(json_str(domains->items[i], "name", ""), d))
			found = domains->items[i];
	if (!found) {
		json_free(list);
		if (mesh_domain_name_check(d) == 0)
			mesh_error_set(MESH_ENOENT, "domain %s does not exist", d);
		return send_error(conn, MHD_HTTP_NOT_FOUND, mesh_error_message(), cookie);
	}
	if (!(branches = ask(s, &status, &msg, "branch", "list", d, NULL))) {
		json_free(list);
		return fail_with(conn, status, msg, cookie);
	}
	if (!(tags = ask(s, &status, &msg, "tag", "list", d, NULL))) {
		json_free(list);
		json_free(branches);
		return fail_with(conn, status, msg, cookie);
	}
	page_domain(&p, found, member_array(branches, "branches"), member_array(tags, "tags"));
	json_free(list);
	json_free(branches);
	json_free(tags);
	return send_page(conn, MHD_HTTP_OK, &p, cookie);
}

/* "DOMAIN/REF" for a command, or NULL (out of memory). */
static char *domain_ref(const char *d, const char *ref)
{
	char *out;

	return asprintf(&out, "%s/%s", d, ref) < 0 ? NULL : out;
}

static enum MHD_Result route_log(const server *s, struct MHD_Connection *conn,
				 const char *cookie, const char *d, const char *ref)
{
	unsigned status;
	char *msg, *spec = domain_ref(d, ref);
	json_value *a;
	page p = { 0 };

	if (!spec)
		return fail_with(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, cookie);
	a = ask(s, &status, &msg, "log", spec, "-n", LOG_MAX, NULL);
	free(spec);
	if (!a)
		return fail_with(conn, status, msg, cookie);
	page_log(&p, d, ref, member_array(a, "commits"));
	json_free(a);
	return send_page(conn, MHD_HTTP_OK, &p, cookie);
}

static enum MHD_Result route_diff(const server *s, struct MHD_Connection *conn,
				  const char *cookie, const char *d)
{
	const char *from = arg(conn, "from"), *to = arg(conn, "to");
	unsigned status = MHD_HTTP_BAD_REQUEST;
	char *msg = NULL, *spec;
	json_value *a = NULL;
	page p = { 0 };

	if (!from || !to || !*from || !*to)
		return send_error(conn, MHD_HTTP_BAD_REQUEST, "a diff needs from= and to=", cookie);
	if ((spec = domain_ref(d, from)))
		a = ask(s, &status, &msg, "diff", spec, to, NULL);
	free(spec);
	if (!a)
		return fail_with(conn, status, msg, cookie);
	page_diff(&p, d, from, to, member_array(a, "changes"));
	json_free(a);
	return send_page(conn, MHD_HTTP_OK, &p, cookie);
}

/* The commit a ref names, through the same `log` command as the log page
 * (so a tag, a branch and an id prefix resolve alike). */
static json_value *resolve(const server *s, const char *d, const char *ref, unsigned *status,
			   char **msg, const char **commit)
{
	char *spec = domain_ref(d, ref);
	json_value *a;
	const json_value *commits;

	if (!spec) {
		*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		*msg = NULL;
		return NULL;
	}
	a = ask(s, status, msg, "log", spec, "-n", "1", NULL);
	free(spec);
	if (!a)
		return NULL;
	commits = member_array(a, "commits");
	if (!commits || commits->count == 0 ||
	    !(*commit = json_str(commits->items[0], "id", NULL))) {
		json_free(a);
		*status = MHD_HTTP_NOT_FOUND;
		*msg = strdup("the ref names no commit");
		return NULL;
	}
	return a;
}

static enum MHD_Result route_files(const server *s, struct MHD_Connection *conn,
				   const char *cookie, const char *d, const char *ref, bool raw)
{
	const char *path = arg(conn, "path"), *commit;
	unsigned status;
	char *msg, *data = NULL;
	json_value *a = resolve(s, d, ref, &status, &msg, &commit);
	browse b;
	browse_entry *entries = NULL;
	size_t count = 0, len = 0;
	uint64_t size = 0;
	bool is_dir = false;
	page p = { 0 };
	enum MHD_Result r;
	int error;

	if (!a)
		return fail_with(conn, status, msg, cookie);
	if (!path)
		path = "";
	if ((error = browse_open(&b, s, d, commit)) == 0 &&
	    (error = browse_stat(&b, path, &is_dir, &size)) == 0) {
		if (is_dir && !raw)
			error = browse_list(&b, path, &entries, &count);
		else if (raw && !is_dir && size <= RAW_MAX)
			error = browse_read(&b, path, RAW_MAX, &data, &len);
		else if (!is_dir && is_csv(path))
			error = browse_read(&b, path, CSV_PREVIEW_BYTES, &data, &len);
	}
	browse_close(&b);
	if (error < 0) {
		json_free(a);
		return send_error(conn, status_of(mesh_error_name(error)), mesh_error_message(),
				  cookie);
	}
	if (raw && is_dir) {
		r = send_error(conn, MHD_HTTP_BAD_REQUEST, "a directory has no raw content", cookie);
	} else if (raw && size > RAW_MAX) {
		char text[160];
		snprintf(text, sizeof(text), "the file has %llu bytes, more than the %u MiB "
			 "served raw; read it through a mount", (unsigned long long)size, RAW_MAX >> 20);
		r = send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, text, cookie);
	} else if (raw) {
		r = send_bytes(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", data, len, cookie,
			       true);
		data = NULL;
	} else {
		if (is_dir)
			page_dir(&p, d, ref, path, entries, count);
		else
			page_file(&p, d, ref, path, size, data, len);
		r = send_page(conn, MHD_HTTP_OK, &p, cookie);
	}
	free(data);
	entries_free(entries, count);
	json_free(a);
	return r;
}

/* A token from the query (then a cookie is set) or from the cookie,
 * compared in constant time. */
static bool same_token(const server *s, const char *given)
{
	return given && strlen(given) == TOKEN_HEX &&
	       CRYPTO_memcmp(given, s->token, TOKEN_HEX) == 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	const server *s = cls;
	char cookie[160];
	const char *set_cookie = NULL, *d, *ref;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	if (same_token(s, arg(conn, "token"))) {
		snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict",
			 s->cookie_name, s->token);
		set_cookie = cookie;
	} else if (!same_token(s, MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
							      s->cookie_name))) {
		return send_error(conn, MHD_HTTP_FORBIDDEN, "this page needs the token of the URL "
				  "that `meshfs serve` printed", NULL);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "the catalog is read-only",
				  set_cookie);
	if (!strcmp(url, "/"))
		return route_index(s, conn, set_cookie);
	if (!strcmp(url, "/static/style.css"))
		return send_static(conn, "text/css; charset=utf-8", style_css, set_cookie);
	if (!strcmp(url, "/static/csv.js"))
		return send_static(conn, "text/javascript; charset=utf-8", csv_js, set_cookie);
	d = arg(conn, "d");
	ref = arg(conn, "ref");
	if (!d || !*d)
		return send_error(conn, MHD_HTTP_NOT_FOUND, "no such page (or no d=DOMAIN)",
				  set_cookie);
	if (!strcmp(url, "/domain"))
		return route_domain(s, conn, set_cookie, d);
	if (!strcmp(url, "/diff"))
		return route_diff(s, conn, set_cookie, d);
	if (!ref || !*ref)
		return send_error(conn, MHD_HTTP_NOT_FOUND, "no such page (or no ref=REF)",
				  set_cookie);
	if (!strcmp(url, "/log"))
		return route_log(s, conn, set_cookie, d, ref);
	if (!strcmp(url, "/tree") || !strcmp(url, "/raw"))
		return route_files(s, conn, set_cookie, d, ref, !strcmp(url, "/raw"));
	return send_error(conn, MHD_HTTP_NOT_FOUND, "no such page", set_cookie);
}

/* --- start-up --------------------------------------------------------- */

/*
 * HOST:PORT with HOST 127.x.y.z, localhost, [::1] or ::1's spellings;
 * anything else is refused: the catalog is for the user at this machine.
 */
static int parse_listen(const char *listen, struct sockaddr_storage *addr, bool *ipv6)
{
	char host[256];
	const char *colon = strrchr(listen, ':'), *port_text;
	char *end;
	long port;
	size_t hlen;

	if (!colon)
		return fprintf(stderr, "meshfs: --listen takes HOST:PORT, not %s\n", listen), -1;
	port_text = colon + 1;
	hlen = (size_t)(colon - listen);
	errno = 0;
	port = strtol(port_text, &end, 10);
	if (!*port_text || *end || errno || port < 0 || port > 65535)
		return fprintf(stderr, "meshfs: --listen: bad port %s\n", port_text), -1;
	if (hlen >= sizeof(host))
		return fprintf(stderr, "meshfs: --listen: host name too long\n"), -1;
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	memset(addr, 0, sizeof(*addr));
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*ipv6 = false;
		if ((ntohl(v4->sin_addr.s_addr) >> 24) == 127)
			return 0;
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*ipv6 = true;
		if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
			return 0;
	}
	fprintf(stderr, "meshfs: serve listens on loopback only (127.0.0.0/8, [::1] or "
		"localhost), not on %s: the page shows everything this user may read\n", host);
	return -1;
}

static int make_token(char out[TOKEN_HEX + 1])
{
	unsigned char raw[TOKEN_BYTES];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int meshfs_serve(const meshfs_serve_opts *opts)
{
	server s = { .store = opts->store, .mount = opts->mount, .log_level = opts->log_level };
	const char *listen = DEFAULT_LISTEN;
	char mount[PATH_MAX], store[PATH_MAX], host[INET6_ADDRSTRLEN];
	struct sockaddr_storage addr;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *daemon;
	sigset_t stop;
	bool ipv6 = false;
	int sig;
	unsigned port;

	for (int i = 1; i < opts->argc; i++) {
		if (!strcmp(opts->argv[i], "--listen") && i + 1 < opts->argc) {
			listen = opts->argv[++i];
		} else {
			fprintf(stderr, "meshfs: serve takes [--listen HOST:PORT] [--store DIR | "
				"--mount DIR], not %s\n", opts->argv[i]);
			return 2;
		}
	}
	if (parse_listen(listen, &addr, &ipv6) < 0)
		return 2;
	if (s.mount && mesh_ctl_find_mount(NULL, s.mount, mount, store) < 0) {
		fprintf(stderr, "meshfs: %s is not a meshfs mount\n", s.mount);
		return 1;
	}
	if (s.mount)
		s.mount = mount;
	if (make_token(s.token) < 0) {
		fprintf(stderr, "meshfs: no random bytes for the token\n");
		return 1;
	}
	/* The server's thread inherits the mask: only sigwait sees these. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
				  (ipv6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, handle, &s,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				  MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
	if (!daemon) {
		fprintf(stderr, "meshfs: cannot listen on %s: %s\n", listen, strerror(errno));
		return 1;
	}
	info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
	port = info ? info->port : 0;
	snprintf(s.cookie_name, sizeof(s.cookie_name), "meshfs_token_%u", port);
	if (ipv6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr)->sin6_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&addr)->sin_addr, host, sizeof(host));
	printf("meshfs serve: store %s%s%s\n", s.store, s.mount ? ", read through " : "",
	       s.mount ? s.mount : "");
	printf("http://%s%s%s:%u/?token=%s\n", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port,
	       s.token);
	fflush(stdout);
	while (sigwait(&stop, &sig) != 0)
		;
	MHD_stop_daemon(daemon);
	OPENSSL_cleanse(s.token, sizeof(s.token));
	return 0;
}
