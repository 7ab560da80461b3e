#include "fuzz_util.h"
#include "domain.h"
#include "error.h"
#include "view.h"

#include <ftw.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: property failed: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

char *fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* glibc's converter refuses what is not UTF-8 (overlong forms and
 * encoded surrogates included). */
bool fuzz_utf8_valid(const char *s)
{
	static iconv_t cd = (iconv_t)-1;
	size_t in_left = strlen(s), out_left = in_left * 4 + 4;
	char *out = malloc(out_left), *op = out, *ip = (char *)s;
	size_t rc;

	if (!out || (cd == (iconv_t)-1 && (cd = iconv_open("UTF-32LE", "UTF-8")) == (iconv_t)-1))
		abort();
	iconv(cd, NULL, NULL, NULL, NULL);
	rc = iconv(cd, &ip, &in_left, &op, &out_left);
	free(out);
	return rc != (size_t)-1 && in_left == 0;
}

/* --- in-memory object store --------------------------------------------- */

typedef struct mem_object {
	mesh_oid oid;
	void *data;
	size_t len;
} mem_object;

static struct {
	mem_object *objects;
	size_t count, cap;
	const void *answer;
	size_t answer_len;
} mem;

static mem_object *mem_find(const mesh_oid *oid)
{
	for (size_t i = 0; i < mem.count; i++)
		if (mesh_oid_cmp(&mem.objects[i].oid, oid) == 0)
			return &mem.objects[i];
	return NULL;
}

static int mem_read(mesh_odb_backend *b, const mesh_oid *oid, void **out, size_t *out_len)
{
	const void *src = mem.answer;
	size_t len = mem.answer_len;
	mem_object *o;

	(void)b;
	if (!src) {
		if (!(o = mem_find(oid)))
			return mesh_error_set(MESH_ENOENT, "no such object");
		src = o->data;
		len = o->len;
	}
	if (!(*out = malloc(len ? len : 1)))
		return mesh_error_oom();
	memcpy(*out, src, len);
	*out_len = len;
	return 0;
}

static int mem_write(mesh_odb_backend *b, const mesh_oid *oid, const void *data, size_t len)
{
	mem_object *o;

	(void)b;
	if (mem_find(oid))
		return 0;
	/* Bounded: a long fuzzing run must not grow without end. */
	if (mem.count == 4096) {
		for (size_t i = 0; i < mem.count; i++)
			free(mem.objects[i].data);
		mem.count = 0;
	}
	if (mem.count == mem.cap) {
		size_t cap = mem.cap ? mem.cap * 2 : 64;
		mem_object *grown = realloc(mem.objects, cap * sizeof(*grown));
		if (!grown)
			return mesh_error_oom();
		mem.objects = grown;
		mem.cap = cap;
	}
	o = &mem.objects[mem.count];
	if (!(o->data = malloc(len ? len : 1)))
		return mesh_error_oom();
	memcpy(o->data, data, len);
	o->len = len;
	o->oid = *oid;
	mem.count++;
	return 0;
}

static int mem_exists(mesh_odb_backend *b, const mesh_oid *oid)
{
	(void)b;
	return mem_find(oid) != NULL;
}

static int mem_sync(mesh_odb_backend *b)
{
	(void)b;
	return 0;
}

static void mem_free(mesh_odb_backend *b)
{
	(void)b;
}

mesh_odb *fuzz_mem_odb(void)
{
	static mesh_odb_backend backend = {
		.read = mem_read, .write = mem_write, .exists = mem_exists,
		.sync = mem_sync, .free = mem_free,
	};
	static mesh_odb *odb;

	if (!odb && mesh_odb_open(&odb, &backend, NULL) < 0)
		fuzz_fail(__FILE__, __LINE__, "mesh_odb_open", "%s", mesh_error_message());
	return odb;
}

void fuzz_mem_odb_answer(const void *stored, size_t len)
{
	mem.answer = stored;
	mem.answer_len = len;
}

const void *fuzz_mem_odb_stored(const mesh_oid *oid, size_t *len)
{
	mem_object *o = mem_find(oid);

	if (!o)
		return NULL;
	*len = o->len;
	return o->data;
}

/* --- scratch store ------------------------------------------------------ */

#define MAX_VIEWS 64

static struct {
	char dir[64];
	mesh_store *store;
	mesh_caller caller;
	mesh_control_env env;
	mesh_view *views[MAX_VIEWS];
	size_t view_count;
} scratch;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void scratch_remove(void)
{
	for (size_t i = 0; i < scratch.view_count; i++)
		mesh_view_free(scratch.views[i]);
	mesh_store_close(scratch.store);
	nftw(scratch.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* One view per branch, as the mount keeps them.  A full table refuses
 * more: a view handed out may be held until the command ends. */
static int scratch_view(void *ctx, const char *domain, const char *branch, mesh_view **out)
{
	int error;

	(void)ctx;
	for (size_t i = 0; i < scratch.view_count; i++)
		if (!strcmp(mesh_view_domain(scratch.views[i]), domain) &&
		    !strcmp(mesh_view_branch(scratch.views[i]), branch)) {
			*out = scratch.views[i];
			return 0;
		}
	if (scratch.view_count == MAX_VIEWS)
		return mesh_error_set(MESH_EBUSY, "fuzz: %d branch views open", MAX_VIEWS);
	if ((error = mesh_view_open_branch(out, scratch.store, domain, branch)) < 0)
		return error;
	scratch.views[scratch.view_count++] = *out;
	return 0;
}

static void must(int error, const char *what)
{
	if (error < 0)
		fuzz_fail(__FILE__, __LINE__, what, "%s", mesh_error_message());
}

static void run(const char *line)
{
	char *answer = NULL;
	int error = mesh_control_run(&scratch.env, &scratch.caller, line, &answer);

	if (error < 0)
		fuzz_fail(__FILE__, __LINE__, line, "%s", answer ? answer : "(no answer)");
	free(answer);
}

static void put_file(const char *branch, const char *path, const char *content)
{
	mesh_view *view;
	mesh_oid map;

	char dir[256];

	must(scratch_view(NULL, "sales", branch, &view), "view");
	for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if (mesh_view_mkdir(view, &scratch.caller, dir, 0755) == MESH_EEXIST)
			mesh_error_clear();
	}
	must(mesh_file_write_buf(mesh_store_odb(scratch.store), NULL, content,
				 strlen(content), &map), "write");
	must(mesh_view_stage_content(view, &scratch.caller, path, MESH_KIND_FILE, 0644,
				     strlen(content), 1764130000000000000LL, &map, false),
	     "stage");
}

static void fill_history(void)
{
	run("domain create sales --description 'orders and invoices'");
	run("domain create marketing");
	put_file("main", "orders/2026/11/part-0.csv", "id,amount\n1,10\n2,20\n");
	put_file("main", "README", "sales data\n");
	run("commit sales/main -m 'November orders' --meta source=erp");
	put_file("main", "orders/2026/12/part-0.csv", "id,amount\n3,30\n");
	run("commit sales/main -m 'December orders'");
	run("tag create sales/v1 main");
	run("branch create sales/dev --from main~1");
	put_file("dev", "orders/fix.csv", "id,amount\n9,90\n");
	run("commit sales/dev -m 'a fix'");
	put_file("main", "README", "sales data, v2\n");
	run("commit sales/main -m 'README v2'");
	run("merge sales/dev --into main -m 'merge dev'");
	run("cp sales/main/orders marketing/main/orders");
	run("commit marketing/main -m 'inputs'");
}

mesh_store *fuzz_scratch_store(void)
{
	const char *tmpdir = getenv("TMPDIR");

	if (scratch.store)
		return scratch.store;
	snprintf(scratch.dir, sizeof(scratch.dir), "%.40s/meshfuzz.XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(scratch.dir))
		fuzz_fail(__FILE__, __LINE__, "mkdtemp", "%s", scratch.dir);
	must(mesh_store_init(scratch.dir), "init");
	must(mesh_store_open(&scratch.store, scratch.dir, NULL), "open");
	scratch.caller.uid = getuid();
	scratch.caller.gid = getgid();
	scratch.caller.pid = getpid();
	scratch.env.store = scratch.store;
	scratch.env.branch_view = scratch_view;
	fill_history();
	/* Registered after OpenSSL's own exit handler (its first digest was
	 * in fill_history), so it runs first: the store's audit thread must
	 * not hash after OpenSSL has been cleaned up. */
	atexit(scratch_remove);
	return scratch.store;
}

const mesh_control_env *fuzz_control_env(void)
{
	fuzz_scratch_store();
	return &scratch.env;
}

const mesh_caller *fuzz_caller(void)
{
	fuzz_scratch_store();
	return &scratch.caller;
}
