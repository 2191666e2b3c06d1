// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "render/json.h"

#define FFFD "\xef\xbf\xbd"

/* NUL-terminated copy of the buffer, for assert_string_equal. */
static const char *text(struct json_buf *b)
{
	static char out[4096];

	assert_false(b->buf.oom);
	assert_true(b->buf.len < sizeof(out));
	memcpy(out, b->buf.data, b->buf.len);
	out[b->buf.len] = '\0';
	return out;
}

/* The JSON string (with quotes) that json_strn writes for n bytes. */
static void check_strn(const char *in, size_t n, const char *want)
{
	struct json_buf b;

	json_init(&b);
	json_strn(&b, in, n);
	assert_string_equal(text(&b), want);
	json_free(&b);
}

#define CHECK(in, want) check_strn(in, sizeof(in) - 1, want)

static void test_nesting_and_commas(void **state)
{
	struct json_buf b;

	(void)state;
	json_init(&b);
	json_obj_begin(&b);
	json_kv_u64(&b, "a", 1);
	json_key(&b, "b");
	json_arr_begin(&b);
	json_u64(&b, 1);
	json_i64(&b, -2);
	json_obj_begin(&b);
	json_key(&b, "c");
	json_null(&b);
	json_obj_end(&b);
	json_arr_begin(&b);
	json_arr_end(&b);
	json_bool(&b, true);
	json_arr_end(&b);
	json_key(&b, "d");
	json_obj_begin(&b);
	json_obj_end(&b);
	json_kv_bool(&b, "e", false);
	json_kv_i64(&b, "f", -7);
	json_kv_str(&b, "g", "x");
	json_kv_str(&b, "h", NULL);
	json_obj_end(&b);
	assert_string_equal(text(&b),
			    "{\"a\":1,\"b\":[1,-2,{\"c\":null},[],true],"
			    "\"d\":{},\"e\":false,\"f\":-7,\"g\":\"x\","
			    "\"h\":null}");
	assert_int_equal(b.depth, 0);

	/* reset keeps the allocation and forgets the comma state */
	json_reset(&b);
	json_arr_begin(&b);
	json_str(&b, NULL);
	json_str(&b, "");
	json_arr_end(&b);
	assert_string_equal(text(&b), "[null,\"\"]");
	json_free(&b);
}

static void test_key_escaped(void **state)
{
	struct json_buf b;

	(void)state;
	json_init(&b);
	json_obj_begin(&b);
	json_kv_u64(&b, "a\"b\n", 0);
	json_obj_end(&b);
	assert_string_equal(text(&b), "{\"a\\\"b\\n\":0}");
	json_free(&b);
}

static void test_raw(void **state)
{
	struct json_buf b;

	(void)state;
	json_init(&b);
	json_obj_begin(&b);
	json_key(&b, "p");
	json_raw(&b, "{\"x\":1}", 7);
	json_raw(&b, "\"m\":2", 5);
	json_kv_u64(&b, "q", 3);
	json_obj_end(&b);
	json_raw(&b, "\n", 1);
	assert_string_equal(text(&b), "{\"p\":{\"x\":1},\"m\":2,\"q\":3}\n");
	json_free(&b);
}

static void test_numbers(void **state)
{
	struct json_buf b;

	(void)state;
	json_init(&b);
	json_arr_begin(&b);
	json_u64(&b, 0);
	json_u64(&b, UINT64_MAX);
	json_i64(&b, 0);
	json_i64(&b, -1);
	json_i64(&b, INT64_MIN);
	json_i64(&b, INT64_MAX);
	json_u64(&b, 4294967295u);
	json_arr_end(&b);
	assert_string_equal(text(&b),
			    "[0,18446744073709551615,0,-1,"
			    "-9223372036854775808,9223372036854775807,"
			    "4294967295]");
	json_free(&b);
}

static void test_escapes(void **state)
{
	(void)state;
	CHECK("plain ascii ~", "\"plain ascii ~\"");
	CHECK("\"\\/", "\"\\\"\\\\/\"");
	CHECK("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	CHECK("\x01\x07\x0b\x0e\x1b\x1f", "\"\\u0001\\u0007\\u000b\\u000e"
					  "\\u001b\\u001f\"");
	CHECK("\x7f", "\"\\u007f\"");
	CHECK("a\0b", "\"a\\u0000b\"");
	CHECK("\0", "\"\\u0000\"");
	CHECK("", "\"\"");
}

static void test_valid_utf8_passes(void **state)
{
	(void)state;
	CHECK("\xc2\x80", "\"\xc2\x80\"");                 /* U+0080 */
	CHECK("caf\xc3\xa9", "\"caf\xc3\xa9\"");           /* é */
	CHECK("\xdf\xbf", "\"\xdf\xbf\"");                 /* U+07FF */
	CHECK("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");         /* U+0800 */
	CHECK("\xe2\x82\xac", "\"\xe2\x82\xac\"");         /* € */
	CHECK("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");         /* U+D7FF */
	CHECK("\xee\x80\x80", "\"\xee\x80\x80\"");         /* U+E000 */
	CHECK("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");         /* U+FFFD */
	CHECK("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");         /* U+FFFF */
	CHECK("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\""); /* U+10000 */
	CHECK("x\xf0\x9f\x98\x80y", "\"x\xf0\x9f\x98\x80y\""); /* emoji */
	CHECK("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
	CHECK("\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\"");
}

static void test_js_line_separators(void **state)
{
	(void)state;
	CHECK("a\xe2\x80\xa8" "b", "\"a\\u2028b\"");
	CHECK("\xe2\x80\xa9", "\"\\u2029\"");
	CHECK("\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\"");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	/* lone continuation bytes */
	CHECK("\x80", "\"" FFFD "\"");
	CHECK("a\xbf" "b", "\"a" FFFD "b\"");
	CHECK("\x80\x80", "\"" FFFD FFFD "\"");
	/* leads that never start a valid sequence */
	CHECK("\xc0\x80", "\"" FFFD FFFD "\"");
	CHECK("\xc1\xbf", "\"" FFFD FFFD "\"");
	CHECK("\xf5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	CHECK("\xf8", "\"" FFFD "\"");
	CHECK("\xfe\xff", "\"" FFFD FFFD "\"");
	/* overlong 3- and 4-byte encodings */
	CHECK("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");
	CHECK("\xe0\x9f\xbf", "\"" FFFD FFFD FFFD "\"");
	CHECK("\xf0\x80\x80\xaf", "\"" FFFD FFFD FFFD FFFD "\"");
	CHECK("\xf0\x8f\xbf\xbf", "\"" FFFD FFFD FFFD FFFD "\"");
	/* UTF-16 surrogates */
	CHECK("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");
	CHECK("\xed\xbf\xbf", "\"" FFFD FFFD FFFD "\"");
	CHECK("\xed\xa0\xbd\xed\xb8\x80",
	      "\"" FFFD FFFD FFFD FFFD FFFD FFFD "\"");
	/* above U+10FFFF */
	CHECK("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	/* truncated at the end, and interrupted by ASCII */
	CHECK("\xc3", "\"" FFFD "\"");
	CHECK("x\xe2\x82", "\"x" FFFD FFFD "\"");
	CHECK("\xf0\x9f\x98", "\"" FFFD FFFD FFFD "\"");
	CHECK("\xe2\x82" "A", "\"" FFFD FFFD "A\"");
	CHECK("\xf0\x9f\x98\"", "\"" FFFD FFFD FFFD "\\\"\"");
	/* scanning resumes right after the bad byte */
	CHECK("\xff\xc3\xa9", "\"" FFFD "\xc3\xa9\"");
	CHECK("\xe2\xe2\x82\xac", "\"" FFFD "\xe2\x82\xac\"");
}

/*
 * The word-at-a-time scan must agree with the byte-at-a-time one: every
 * byte value at every offset of a 16-byte ASCII run is written exactly
 * as it is when alone (too short for the word scan).
 */
static void test_every_byte_in_context(void **state)
{
	struct json_buf one, ctx;
	char in[16], want[64];
	unsigned c, pos;

	(void)state;
	json_init(&one);
	json_init(&ctx);
	for (c = 0; c < 256; c++) {
		char byte = (char)c;

		json_reset(&one);
		json_escape_bytes(&one, &byte, 1);
		assert_true(one.buf.len <= 6);
		for (pos = 0; pos < sizeof(in); pos++) {
			memset(in, 'a', sizeof(in));
			in[pos] = byte;
			memset(want, 'a', sizeof(want));
			memcpy(want + pos, one.buf.data, one.buf.len);
			json_reset(&ctx);
			json_escape_bytes(&ctx, in, sizeof(in));
			assert_int_equal(ctx.buf.len, sizeof(in) - 1 + one.buf.len);
			assert_memory_equal(ctx.buf.data, want, ctx.buf.len);
		}
	}
	json_free(&one);
	json_free(&ctx);
}

/*
 * Independent checker: b holds exactly one JSON string value whose bytes
 * are strict UTF-8, with no raw control bytes, no raw DEL, no raw
 * U+2028/U+2029 and only well-formed escapes.
 */
static bool valid_json_string(const unsigned char *s, size_t n)
{
	size_t i = 1;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return false;
	n--;
	while (i < n) {
		unsigned c = s[i], cp, need, min, k;

		if (c == '"' || c < 0x20 || c == 0x7f)
			return false;
		if (c == '\\') {
			if (i + 1 >= n)
				return false;
			c = s[i + 1];
			if (c == 'u') {
				if (i + 6 > n)
					return false;
				for (k = 2; k < 6; k++)
					if (!strchr("0123456789abcdef",
						    s[i + k]) || !s[i + k])
						return false;
				i += 6;
			} else if (strchr("\"\\/bfnrt", (int)c) && c) {
				i += 2;
			} else {
				return false;
			}
			continue;
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (i + need >= n)
			return false;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp == 0x2028 || cp == 0x2029)
			return false;
		i += need + 1;
	}
	return true;
}

static void test_validator_rejects(void **state)
{
	static const char *const bad[] = {
		"\"\x01\"", "\"\x7f\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"",
		"\"\xe2\x80\xa8\"", "\"\xf4\x90\x80\x80\"", "\"\\x\"",
		"\"\\u00g0\"", "\"a\"b\"", "\"\xe2\x82\"", "\"\\\"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(valid_json_string((const unsigned char *)bad[i],
					       strlen(bad[i])));
	assert_true(valid_json_string((const unsigned char *)"\"\xf0\x9f\x98\x80\"", 6));
}

/* xorshift64: fixed seed keeps failures reproducible */
static uint64_t rnd(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return *st;
}

static void fuzz_round(uint64_t seed, bool utf8ish)
{
	enum { N = 100 * 1024 };
	unsigned char *in = malloc(N);
	struct json_buf b;
	uint64_t st = seed;
	size_t i;

	assert_non_null(in);
	for (i = 0; i < N; i++) {
		uint64_t r = rnd(&st);

		/* biased toward lead/continuation bytes and the edge values
		 * so that valid and near-valid sequences are common */
		if (utf8ish && (r & 3) == 0)
			in[i] = (unsigned char)(0x80 | ((r >> 8) & 0x3f));
		else if (utf8ish && (r & 3) == 1)
			in[i] = "\xc2\xdf\xe0\xe2\xed\xef\xf0\xf4\xf5\x7f\"\\\0\n"
				[(r >> 8) % 14];
		else
			in[i] = (unsigned char)(r >> 8);
	}
	json_init(&b);
	json_strn(&b, (const char *)in, N);
	assert_false(b.buf.oom);
	assert_true(valid_json_string((unsigned char *)b.buf.data, b.buf.len));
	json_free(&b);
	free(in);
}

static void test_random_bytes(void **state)
{
	(void)state;
	fuzz_round(0x9e3779b97f4a7c15ULL, false);
	fuzz_round(0x123456789abcdefULL, true);
	fuzz_round(42, true);
}

static void test_depth_limit(void **state)
{
	struct json_buf b;
	int i;

	(void)state;
	json_init(&b);
	for (i = 0; i < 64; i++)
		json_arr_begin(&b);
	assert_false(b.buf.oom);
	for (i = 0; i < 64; i++)
		json_arr_end(&b);
	assert_false(b.buf.oom);
	assert_int_equal(b.buf.len, 128);

	json_reset(&b);
	for (i = 0; i < 65; i++)
		json_arr_begin(&b);
	assert_true(b.buf.oom);

	/* closing what was never opened is an error, not a stray byte */
	json_reset(&b);
	json_obj_end(&b);
	assert_true(b.buf.oom);
	json_free(&b);
}

static void test_commas_deep(void **state)
{
	struct json_buf b;
	int i;

	(void)state;
	/* the deepest comma bit (63) must work like the others */
	json_init(&b);
	for (i = 0; i < 64; i++)
		json_arr_begin(&b);
	json_u64(&b, 1);
	json_u64(&b, 2);
	json_arr_end(&b);
	json_u64(&b, 3);
	for (i = 0; i < 63; i++)
		json_arr_end(&b);
	assert_false(b.buf.oom);
	assert_int_equal(b.buf.len, 64 + 3 + 1 + 2 + 63);
	assert_memory_equal(b.buf.data + 63, "[1,2],3]", 8);
	json_free(&b);
}

static void test_oom(void **state)
{
	static const char dummy[1];
	struct json_buf b;
	size_t len;

	(void)state;
	json_init(&b);
	json_arr_begin(&b);
	json_u64(&b, 1);
	len = b.buf.len;
	/* an impossible size: realloc fails before any byte is read */
	json_raw(&b, dummy, (size_t)1 << 62);
	assert_true(b.buf.oom);
	json_u64(&b, 2);
	json_str(&b, "more");
	json_arr_end(&b);
	assert_true(b.buf.oom);
	assert_true(b.buf.len <= len + 1);

	json_reset(&b);
	assert_false(b.buf.oom);
	json_str(&b, "ok");
	assert_string_equal(text(&b), "\"ok\"");
	json_free(&b);
}

static void test_growth(void **state)
{
	struct json_buf b;
	char big[5000];
	int i;

	(void)state;
	memset(big, 'a', sizeof(big));
	json_init(&b);
	json_arr_begin(&b);
	for (i = 0; i < 100; i++)
		json_strn(&b, big, sizeof(big));
	json_arr_end(&b);
	assert_false(b.buf.oom);
	assert_int_equal(b.buf.len, 2 + 100 * 5002 + 99);
	assert_true(b.buf.cap >= b.buf.len);
	json_free(&b);
	assert_null(b.buf.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas),
		cmocka_unit_test(test_key_escaped),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_valid_utf8_passes),
		cmocka_unit_test(test_js_line_separators),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_every_byte_in_context),
		cmocka_unit_test(test_validator_rejects),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_commas_deep),
		cmocka_unit_test(test_oom),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
