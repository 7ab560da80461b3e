/*
 * oid.c - SHA-256 object ids.
 */
#include "oid.h"
#include "error.h"

#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

int mesh_oid_hash(mesh_oid *out, const char *type_name,
		  const void *data, size_t len)
{
	char header[64];
	int header_len;
	unsigned int digest_len = 0;
	EVP_MD_CTX *ctx;
	int ok;

	/* The NUL ends the header, as in git: "<type> <len>\0". */
	header_len = snprintf(header, sizeof(header), "%s %zu", type_name, len);
	if (header_len < 0 || (size_t)header_len >= sizeof(header))
		return mesh_error_set(MESH_EINVAL, "object type name '%s' too long",
				      type_name);
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return mesh_error_oom();
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, header, (size_t)header_len + 1) &&
	     (len == 0 || EVP_DigestUpdate(ctx, data, len)) &&
	     EVP_DigestFinal_ex(ctx, out->id, &digest_len);
	EVP_MD_CTX_free(ctx);
	if (!ok || digest_len != MESH_OID_RAWSZ)
		return mesh_error_set(MESH_EIO, "SHA-256 computation failed");
	return 0;
}

void mesh_oid_fmt(char out[MESH_OID_HEXSZ + 1], const mesh_oid *oid)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < MESH_OID_RAWSZ; i++) {
		out[2 * i] = digits[oid->id[i] >> 4];
		out[2 * i + 1] = digits[oid->id[i] & 0xf];
	}
	out[MESH_OID_HEXSZ] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mesh_oid_parse(mesh_oid *out, const char *hex)
{
	mesh_oid tmp;

	if (!hex || strlen(hex) != MESH_OID_HEXSZ)
		return mesh_error_set(MESH_EINVAL,
				      "object id '%s' is not 64 hex digits",
				      hex ? hex : "(null)");
	for (size_t i = 0; i < MESH_OID_RAWSZ; i++) {
		int hi = hex_value(hex[2 * i]);
		int lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return mesh_error_set(MESH_EINVAL,
					      "object id '%s' has a non-hex digit",
					      hex);
		tmp.id[i] = (unsigned char)(hi << 4 | lo);
	}
	*out = tmp;
	return 0;
}

int mesh_oid_cmp(const mesh_oid *a, const mesh_oid *b)
{
	return memcmp(a->id, b->id, MESH_OID_RAWSZ);
}

bool mesh_oid_is_zero(const mesh_oid *oid)
{
	for (size_t i = 0; i < MESH_OID_RAWSZ; i++)
		if (oid->id[i])
			return false;
	return true;
}
