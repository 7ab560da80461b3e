/*
 * chunk.c - FastCDC (Xia et al., USENIX ATC 2016) with normalized chunking.
 *
 * A gear hash rolls over the bytes; a cut falls where the hash's masked
 * bits are all zero.  Before the average size a mask with more bits makes
 * cuts rarer, after it a mask with fewer bits makes them likelier, which
 * pulls chunk sizes towards the average.  The first min_size bytes of a
 * chunk are skipped without hashing: no cut can fall there anyway.
 */
#include "chunk.h"
#include "error.h"

#include <stdint.h>

const mesh_chunk_params mesh_chunk_default_params = {
	.min_size = 64 * 1024,
	.avg_size = 256 * 1024,
	.max_size = 1024 * 1024,
};

/* Random constants, generated once with splitmix64 from a fixed seed.
 * They must never change: chunk boundaries, and so deduplication against
 * everything already stored, depend on them. */
static const uint64_t gear[256] = {
	0x0bd4e17271d594e0, 0xeaed7ab9bee3e49a, 0x5e9a4dc1ae8fca95,
	0xe478154d683b1e5e, 0xb1a04ce0c2311058, 0x1762071ee41d4008,
	0x28b1de6390f27925, 0xdb6de21a5eb0e517, 0xbec01620367a52de,
	0x6723581f7b50bac8, 0x6c07aee53eb9f9b3, 0x1a1a0d5acc6473c5,
	0x6e7a79b4bf002f8f, 0x6965310101171d84, 0x45f61cb2e3839949,
	0xb993b8c1e5721a4c, 0x88a8528b275408f5, 0x60a2370e6d5c61ef,
	0x5b2df874355c4d3a, 0xea1031cf3f1b7a93, 0xfaaa08e7cd30bd7a,
	0x93aeb013acdd19f5, 0x5d40a52e61ea7207, 0xdec28dcd53c213cc,
	0xcafc986c9ad974a0, 0xfb4ca43133c777ea, 0x416c8f55db656334,
	0xfe97b2c2e50cd465, 0x0f8bb9df7f984ac2, 0x489baf9e58e2b8f0,
	0xba8bde4acc6716ab, 0xc464f141b77408c0, 0xea383abf487ced5e,
	0xd4dcc74ab164127d, 0xee6b792678a82db6, 0x6f3782817d1f45ea,
	0x6681d4ede4d255bb, 0x9580699aa2a0a522, 0xafd34a8a49f0a5e2,
	0xb03c9d4f54176553, 0x97dbe99ad0c538a7, 0x2f6c7120276a6e31,
	0x32971f8723b71070, 0xc81ee5d52f274882, 0x59dfb3e0abd14af7,
	0xf74bcf3f632d5c64, 0xe83cfee892c398b8, 0xd2724a908931803b,
	0x973ed82853952c7c, 0x75cb38e442fe208f, 0xe5bd32b279e01c00,
	0xe3c7a517977b697a, 0x300c3ad3ab810b1f, 0xb2cdc60c1195c52e,
	0x92923b3373ca8964, 0xea8fdd5dfe43622e, 0x39a5a7429238af28,
	0xe44e692924e7bfd3, 0x31c3326a3a1e6f88, 0x45d6273c84e1a5d4,
	0xcea8930a2b61a901, 0xad69bf3ce87c1d03, 0x1f7f73944d6b35e5,
	0x1956e6f7061743a9, 0x181a8bb938d20714, 0x16087847f65967c8,
	0x4cd14db24c69fee9, 0x68bf494cee04a48b, 0x81a3f94c5d42b607,
	0x0227c50e4b08c97d, 0xcc270a7d30dcbfbc, 0x596399dd45fc294b,
	0x1ff5f99c1f7a0816, 0x774e1db74cbe1e7f, 0xca22560c0e497f25,
	0x6673d669e46a7e5b, 0x22dd09fa0598d69f, 0x19ecec1495c7f236,
	0x5989578334b8b1e0, 0xec81c926f0264715, 0xc9db4cf785ad7a4b,
	0x0d073f4f0018cdf4, 0xe2b8bae7dff4f38b, 0x56395b99d9eda868,
	0x02d92f4a73f29b86, 0x99df94990ab048b4, 0xf494db14fd43c6c3,
	0x833c4403dc984f7e, 0xe35a560580748eff, 0x0463ba968123589b,
	0x7d33c3d3a2060e22, 0xb2eacaf3b4d0c977, 0xfffe605e57536145,
	0x78e0502616b9c0af, 0x29ae62d10d7b48da, 0x0a8692e873c5008e,
	0x9453ffae46af2317, 0xe956ee748ac07eb7, 0x56393ce16308402a,
	0x25c0eaaf4dc9eb9f, 0x4cf84dda14c8bf6a, 0x498ae9034478d2ca,
	0x27288547d1659adf, 0xc243f6f91554503c, 0x7a247681ce68f5ec,
	0x976c09ef612588e5, 0x31ded40c56de53ab, 0x920994a13814d96a,
	0xe5badaf860e0d2fd, 0x788f57e0c3dd471d, 0xb57f222e94fe0771,
	0x8cbedc4f35a8fb75, 0x948660a4a719b358, 0x7f19beb836cd23ec,
	0x9f5df9bdc99f5270, 0x6b6a89780a1f0260, 0x43373c5820159e65,
	0x191992f89e9fa8a5, 0x1fd71f729906f06e, 0xa390b72bef366b9d,
	0x089cb009f3a6c534, 0x8a899d742db72f75, 0x6384177fe4236a78,
	0x2c4af0aa01dd5f38, 0x9066d1008b2161a6, 0x979e039144c90c7b,
	0x093590d09f2d3a63, 0x00ff88bc72b86709, 0xe477f286eec913e6,
	0xae562f51740ad20a, 0x5690bb774b527046, 0xac77e75c991ec2f4,
	0x7bfa63ada7ced12b, 0x67673b23362d9ea8, 0xd3cf11b2bfcbb9f9,
	0x9cbacb87a696834f, 0xe26424a754448629, 0x521fd731fb2a2b5a,
	0x52d34dd1def80319, 0xb40d4f9dce46f75d, 0x9de0e749fafe4ac5,
	0x4b6747a9acc3d581, 0x7308bd14c2b2255e, 0x8b7c4f0dd19a674c,
	0x97c41c36597deb27, 0x9ed284c9b63e3e93, 0x00046bb478eaa8c0,
	0x43574adcad8411f4, 0x55db929b9d8ff2b2, 0x18f88f8fd24a6777,
	0x15073f99cfd039b9, 0xcc0cfc57d41626a2, 0x992da9eb645cf208,
	0x1e4b8d6a0110bc41, 0x88f53ee2dde8ee59, 0x3b42ca4784318bac,
	0x6bd6313020b29346, 0x5d97b98e093033ea, 0x662b108dfec93df5,
	0xbd8f5283c93f269e, 0xaa868a2e4cca6c43, 0xc03e0ae8e5b959fc,
	0x3420c5f5befd6fba, 0xf4d3661d03fbdbbc, 0x4a7cd202c2ec898d,
	0x8453d53f1b108b11, 0x3bfd2ce02558e47e, 0xe628db2ef2c14290,
	0x82f7310f70910140, 0x53ae3a457ff17349, 0xb812685a6ef0d80b,
	0x05102592ef8bc772, 0x416830cc117a66cd, 0x3c55244f7183e34a,
	0x6b1de1129a0af5bb, 0xd3b07449b24a777d, 0xad759bf1176d3d07,
	0xa9a207fb722b01b2, 0x4b4484ef5d4a0fbf, 0x1310906b57c597d0,
	0xdb38dca4bee4ebfa, 0x39124e7311c3e9b7, 0x773ea0b892e072d2,
	0xeb0b5bc9ddbee692, 0xe9a92f995fe7c3fc, 0x479a4fbf5b132491,
	0x1ca9fa2028318498, 0x308d2fffdf145aab, 0x49645668e9977968,
	0x0ce41e82fcd8fb5e, 0x48a07f8f790a6841, 0x8bb49787fa9739c2,
	0xd2d0faed9f8adc08, 0xaceb856c816eb87e, 0xbaac69d1bbc94394,
	0x38ff87e1e8e8e7b2, 0x1a22fd1895d2ff2f, 0xfa66b551a7595b45,
	0x10b0e17bb4dba0de, 0x43b2eaf5963246e4, 0x51c5fe9c6e2b079b,
	0x5a7f047be7345b4d, 0x7b98a1c2cd2bf93c, 0x4534e5e5f2781e93,
	0x355913fa68a6b5c6, 0x9a15ac510ba5f1bf, 0x021cb4ea04b090f5,
	0x0a915be014a97949, 0xb45b83ecd1108b1a, 0x6090c0039d88e286,
	0xc8065156a0c63233, 0x9d6f16a15e8683dc, 0xaf1b9ac8e7b1f342,
	0x1ad382f292f106c5, 0x77778fc5e85a98eb, 0x3cc423319a712ffc,
	0x6b15318576838439, 0xc115057b197fb432, 0xcebfcc1be0cfb213,
	0xbcc3e6333ae3f48b, 0xf776cec1d8e18402, 0x51886e42aac9e689,
	0x638f806df70d4844, 0xa409b9434923d174, 0xee257b65997cf073,
	0x01f11d417c6f2c45, 0x1690b9e021a643d5, 0x805dfa5b25d10b11,
	0x75fcca9ceec34bbb, 0xcb17f1a7c88112ae, 0x52f27595b9ffa58e,
	0x7dc97272d70ca203, 0x4d43f67982c59a11, 0x9d41594909ae6868,
	0xdc5c18a548936259, 0x16e8fe519e786fdb, 0x7077a95a9d8fc636,
	0x8b5715756870b655, 0x1d5013bb077a467d, 0x58ae87fe776905c9,
	0x9640b955a7447c82, 0x8463649034c63716, 0x62937cf9131e1e03,
	0x31ac5e7b1f838e78, 0x8f13944bd219e469, 0xfe4c45ac4e7904db,
	0x7b1328fc207ca6ce, 0xcf74d67d3fc8f701, 0x30c4023d0ab8ae57,
	0x4bf911da53198bd1, 0x8c24a482bac0a148, 0x86b66f87f1b0affa,
	0x3ee4d39d58682936, 0xe07311da546e77bb, 0x077fa2be31384d74,
	0x6250bb24bbbf9161,
};

/* Normalization level 2, as the FastCDC paper recommends: the masks have
 * two bits more / fewer than log2(avg). */
#define NORMALIZATION 2

static unsigned log2_exact(size_t pow2)
{
	unsigned bits = 0;

	while ((pow2 >>= 1) != 0)
		bits++;
	return bits;
}

/* The top `bits` bits: in a gear hash, high bits depend on the most
 * recent 64 bytes, low bits only on the last few. */
static uint64_t top_mask(int bits)
{
	if (bits <= 0)
		return 0;
	if (bits >= 64)
		return ~(uint64_t)0;
	return ~(uint64_t)0 << (64 - bits);
}

int mesh_chunk_params_check(const mesh_chunk_params *params)
{
	if (!params)
		return mesh_error_set(MESH_EINVAL, "chunk parameters missing");
	if (params->min_size == 0 || params->min_size > params->avg_size ||
	    params->avg_size > params->max_size)
		return mesh_error_set(MESH_EINVAL,
				      "chunk sizes must satisfy 0 < min (%zu) <= avg (%zu) <= max (%zu)",
				      params->min_size, params->avg_size,
				      params->max_size);
	if ((params->avg_size & (params->avg_size - 1)) != 0)
		return mesh_error_set(MESH_EINVAL,
				      "average chunk size %zu is not a power of two",
				      params->avg_size);
	return 0;
}

size_t mesh_chunk_next(const mesh_chunk_params *params,
		       const unsigned char *buf, size_t len, bool at_eof)
{
	size_t limit = len < params->max_size ? len : params->max_size;
	bool complete = at_eof || len >= params->max_size;
	int bits = (int)log2_exact(params->avg_size);
	uint64_t mask_hard = top_mask(bits + NORMALIZATION);
	uint64_t mask_easy = top_mask(bits - NORMALIZATION);
	size_t normal = params->avg_size < limit ? params->avg_size : limit;
	uint64_t fp = 0;
	size_t i = params->min_size;

	if (limit <= params->min_size)
		return complete ? limit : 0;
	for (; i < normal; i++) {
		fp = (fp << 1) + gear[buf[i]];
		if (!(fp & mask_hard))
			return i + 1;
	}
	for (; i < limit; i++) {
		fp = (fp << 1) + gear[buf[i]];
		if (!(fp & mask_easy))
			return i + 1;
	}
	return complete ? limit : 0;
}
