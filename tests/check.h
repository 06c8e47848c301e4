/* check.h: the unit tests' assertion helper. Each CHECK* macro records one
 * check, prints "file:line: FAIL ..." for a failed one (with the values for
 * the typed forms), and evaluates to 1 when it passed, so a test can write
 * `if (!CHECK(p != NULL)) return;`. check_summary() prints
 * "N passed, M failed" alone on a line (", K skipped" appended when
 * something was skipped) and returns the process exit code: non-zero when
 * any check failed. Header-only, C11. The typed macros evaluate each
 * argument once, so `CHECK_EQ_INT(f(x), 0)` calls f once. */
#ifndef INFERD_TESTS_CHECK_H
#define INFERD_TESTS_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int check_passed_count;
static int check_failed_count;
static int check_skipped_count;

#if defined(__GNUC__) || defined(__clang__)
#define CHECK_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define CHECK_PRINTF(fmt_index, first_arg)
#endif

/* Records one check; on failure prints file:line and the formatted detail. */
static inline int check_record(int ok, const char *file, int line, const char *fmt, ...) CHECK_PRINTF(4, 5);
static inline int check_record(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        check_passed_count++;
        return 1;
    }
    check_failed_count++;
    fprintf(stderr, "%s:%d: FAIL ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

static inline void check_skip(const char *file, int line, const char *why) {
    check_skipped_count++;
    printf("%s:%d: SKIP %s\n", file, line, why);
    fflush(stdout);
}

static inline int check_str_equal(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static inline int check_str_contains(const char *haystack, const char *needle) {
    return haystack && needle && strstr(haystack, needle) != NULL;
}

static inline const char *check_str_or_null(const char *s) { return s ? s : "(null)"; }

/* Prints the closing line and returns main's exit status. */
static inline int check_summary(void) {
    fflush(stderr);
    if (check_skipped_count)
        printf("%d passed, %d failed, %d skipped\n", check_passed_count, check_failed_count, check_skipped_count);
    else
        printf("%d passed, %d failed\n", check_passed_count, check_failed_count);
    fflush(stdout);
    return check_failed_count ? 1 : 0;
}

/* Typed checks: each argument is evaluated exactly once. */
static inline int check_eq_int(long long a, long long b, int equal, const char *file, int line, const char *as,
                               const char *bs) {
    if (equal)
        return check_record(a == b, file, line, "%s == %s: %lld != %lld", as, bs, a, b);
    return check_record(a != b, file, line, "%s != %s: both are %lld", as, bs, a);
}

static inline int check_eq_u64(unsigned long long a, unsigned long long b, const char *file, int line,
                               const char *as, const char *bs) {
    return check_record(a == b, file, line, "%s == %s: %llu != %llu", as, bs, a, b);
}

static inline int check_eq_double(double a, double b, const char *file, int line, const char *as, const char *bs) {
    return check_record(a == b, file, line, "%s == %s: %.9g != %.9g", as, bs, a, b);
}

static inline int check_near(double a, double b, double tol, const char *file, int line, const char *as,
                             const char *bs) {
    return check_record(fabs(a - b) <= tol, file, line, "%s ~= %s: %.17g vs %.17g (tolerance %g)", as, bs, a, b,
                        tol);
}

static inline int check_str(const char *a, const char *b, const char *file, int line, const char *as,
                            const char *bs) {
    return check_record(check_str_equal(a, b), file, line, "%s == %s: \"%s\" != \"%s\"", as, bs,
                        check_str_or_null(a), check_str_or_null(b));
}

static inline int check_contains(const char *haystack, const char *needle, const char *file, int line,
                                 const char *hs, const char *ns) {
    return check_record(check_str_contains(haystack, needle), file, line, "%s contains %s: \"%s\" lacks \"%s\"",
                        hs, ns, check_str_or_null(haystack), check_str_or_null(needle));
}

#define CHECK(cond) check_record(!!(cond), __FILE__, __LINE__, "CHECK(%s)", #cond)

/* Like CHECK, with a printf-style explanation printed on failure (the
 * explanation's arguments are evaluated whether or not the check fails). */
#define CHECK_MSG(cond, ...) check_record(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define CHECK_EQ_INT(a, b) check_eq_int((long long)(a), (long long)(b), 1, __FILE__, __LINE__, #a, #b)
#define CHECK_NE_INT(a, b) check_eq_int((long long)(a), (long long)(b), 0, __FILE__, __LINE__, #a, #b)
#define CHECK_EQ_U64(a, b) check_eq_u64((unsigned long long)(a), (unsigned long long)(b), __FILE__, __LINE__, #a, #b)
/* Exact float/double equality (no tolerance), values printed round-trippable. */
#define CHECK_EQ_FLOAT(a, b) check_eq_double((double)(a), (double)(b), __FILE__, __LINE__, #a, #b)
#define CHECK_NEAR(a, b, tol) check_near((double)(a), (double)(b), (double)(tol), __FILE__, __LINE__, #a, #b)
#define CHECK_STR(a, b) check_str((a), (b), __FILE__, __LINE__, #a, #b)
#define CHECK_CONTAINS(haystack, needle) check_contains((haystack), (needle), __FILE__, __LINE__, #haystack, #needle)
#define CHECK_NULL(p) check_record((p) == NULL, __FILE__, __LINE__, "%s is NULL", #p)
#define CHECK_NOT_NULL(p) check_record((p) != NULL, __FILE__, __LINE__, "%s is not NULL", #p)

#define CHECK_SKIP(why) check_skip(__FILE__, __LINE__, (why))

#endif
