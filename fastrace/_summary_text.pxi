# Included by fastrace/_analysis.pyx after _summary_rows.pxi (whose
# SumJsonMap, sum_json_int and argument checks it uses): the text table of
# ``fastrace goroutines`` (fastrace.analysis.summary.goroutines_text_chunks),
# written in C.  In Python the table took 5.3 s and 400 MB for the 200,000
# goroutines of the 68 MB sched trace (1.4 M durations formatted one call at
# a time, a dict per goroutine for the two "top" columns), and nothing was
# printed before all of it was formatted.
#
# What a cell holds is exactly what the Python formatting wrote: durations
# as fastrace.analysis.summary.format_duration, widths in code points as
# str.format pads, and each line's trailing spaces stripped.

from libc.stdio cimport snprintf


cdef enum SumTextKind:        # what a column of text_rows' values holds
    SUM_TEXT_INT = 0          # an int64 in decimal
    SUM_TEXT_DUR = 1          # an int64 of ns, as format_duration writes it
    SUM_TEXT_TEXT = 2         # a row of the texts table
    SUM_TEXT_TOP0 = 3         # the largest entry of the row's map 0: "key: duration", " +n" more
    SUM_TEXT_TOP1 = 4         # the same of map 1

TEXT_INT, TEXT_DUR, TEXT_TEXT, TEXT_TOP0, TEXT_TOP1 = (
    SUM_TEXT_INT, SUM_TEXT_DUR, SUM_TEXT_TEXT, SUM_TEXT_TOP0, SUM_TEXT_TOP1)


cdef struct SumTextIn:        # what the text passes read (checked by _sum_text_in)
    const int64_t* vals       # nrows x ncols values
    size_t nrows
    size_t ncols
    const uint8_t* kinds      # column -> SumTextKind
    const char* texts         # UTF-8 texts, one after the other
    const int64_t* text_off   # ntexts + 1 offsets in texts
    size_t ntexts
    const int64_t* key_rank   # key -> its place among the keys in code point order
    const int64_t* key_text   # key -> row of the texts table shown for it
    size_t nkeys
    SumJsonMap maps[2]        # entries: key (a key above) and value (ns)
    size_t first_row          # row 0 of vals is row first_row of the map tables


cdef inline size_t sum_text_cps(const char* p, const char* end) noexcept nogil:
    """Code points of the UTF-8 text p..end: its bytes that do not continue one."""
    cdef size_t n = 0
    while p < end:
        n += (p[0] & 0xC0) != 0x80
        p += 1
    return n


cdef char* sum_text_dur(char* w, int64_t ns) noexcept nogil:
    """ns as format_duration writes it: below 1 us "<ns>ns"; else ns
    divided (as a double) by 1e3, 1e6 or 1e9, with 3 decimals, and "µs",
    "ms" or "s".  The exact quotient has 3, 6 or 9 decimals: unless it is
    exactly halfway between two thousandths, it is at least 1 ns away from
    halfway, far more than the double's error, so rounding the integer
    gives the digits Python's float formatting gives; a halfway quotient
    (and a huge ns) is left to snprintf, which rounds the double as Python
    does."""
    cdef uint64_t a = <uint64_t>0 - <uint64_t>ns if ns < 0 else <uint64_t>ns
    cdef uint64_t unit, q, r
    cdef double scale
    cdef const char* suffix
    cdef int n, slen
    cdef char buf[48]
    if a < 1000:
        w = sum_json_int(w, ns)
        w[0] = 110                  # "ns"
        w[1] = 115
        return w + 2
    if a < 1000000:
        unit, scale, suffix, slen = 1, 1e3, b"\xc2\xb5s", 3      # µs
    elif a < 1000000000:
        unit, scale, suffix, slen = 1000, 1e6, b"ms", 2
    else:
        unit, scale, suffix, slen = 1000000, 1e9, b"s", 1
    q = a // unit                   # thousandths of the unit
    r = a % unit
    if a >= (<uint64_t>1 << 53) or (unit > 1 and 2 * r == unit):
        n = snprintf(buf, sizeof(buf), "%.3f", <double>ns / scale)
        memcpy(w, buf, <size_t>n)
        w += n
    else:
        q += 2 * r > unit
        if ns < 0:
            w[0] = 45               # '-'
            w += 1
        w = sum_json_int(w, <int64_t>(q // 1000))
        w[0] = 46                   # '.'
        w[1] = <char>(48 + q % 1000 // 100)
        w[2] = <char>(48 + q % 100 // 10)
        w[3] = <char>(48 + q % 10)
        w += 4
    memcpy(w, suffix, <size_t>slen)
    return w + slen


cdef inline int64_t sum_text_top(const SumTextIn* d, const SumJsonMap* m, size_t row,
                                 size_t* count) noexcept nogil:
    """The entry of row's map shown in a "top" cell: of each run of entries
    with one key the last (as a dict built in table order keeps it), the
    one with the largest value, then the latest key in code point order;
    count[0] = the keys.  -1 for an empty map."""
    cdef size_t e, lo = <size_t>m.lo[row], hi = <size_t>m.hi[row]
    cdef int64_t best = -1
    count[0] = 0
    for e in range(lo, hi):
        if e + 1 < hi and m.key[e + 1] == m.key[e]:
            continue
        count[0] += 1
        if best < 0 or m.val[e] > m.val[best] or (
                m.val[e] == m.val[best] and d.key_rank[m.key[e]] > d.key_rank[m.key[best]]):
            best = <int64_t>e
    return best


cdef char* sum_text_cell(const SumTextIn* d, size_t r, size_t c, char* w) noexcept nogil:
    """Cell (r, c) at w (room checked by the caller); the end of what was written."""
    cdef int64_t v = d.vals[r * d.ncols + c], best, t
    cdef size_t count
    cdef const SumJsonMap* m
    cdef uint8_t kind = d.kinds[c]
    if kind == SUM_TEXT_INT:
        return sum_json_int(w, v)
    if kind == SUM_TEXT_DUR:
        return sum_text_dur(w, v)
    if kind == SUM_TEXT_TEXT:
        memcpy(w, d.texts + d.text_off[v], <size_t>(d.text_off[v + 1] - d.text_off[v]))
        return w + (d.text_off[v + 1] - d.text_off[v])
    m = &d.maps[kind - SUM_TEXT_TOP0]
    best = sum_text_top(d, m, d.first_row + r, &count)
    if best < 0:
        return w
    t = d.key_text[m.key[best]]
    memcpy(w, d.texts + d.text_off[t], <size_t>(d.text_off[t + 1] - d.text_off[t]))
    w += d.text_off[t + 1] - d.text_off[t]
    w[0] = 58                       # ": "
    w[1] = 32
    w = sum_text_dur(w + 2, m.val[best])
    if count > 1:
        w[0] = 32                   # " +"
        w[1] = 43
        w = sum_json_int(w + 2, <int64_t>(count - 1))
    return w


cdef size_t sum_text_cell_bound(const SumTextIn* d, size_t r, size_t c) noexcept nogil:
    """At least the bytes sum_text_cell writes for cell (r, c)."""
    cdef uint8_t kind = d.kinds[c]
    cdef int64_t v = d.vals[r * d.ncols + c]
    cdef size_t n = 0, e
    cdef const SumJsonMap* m
    cdef int64_t t
    if kind == SUM_TEXT_INT or kind == SUM_TEXT_DUR:
        return 48
    if kind == SUM_TEXT_TEXT:
        return <size_t>(d.text_off[v + 1] - d.text_off[v])
    m = &d.maps[kind - SUM_TEXT_TOP0]
    for e in range(<size_t>m.lo[d.first_row + r], <size_t>m.hi[d.first_row + r]):
        t = d.key_text[m.key[e]]
        if <size_t>(d.text_off[t + 1] - d.text_off[t]) > n:
            n = <size_t>(d.text_off[t + 1] - d.text_off[t])
    return n + 2 + 48 + 2 + 24


cdef int sum_text_check(const SumTextIn* d) noexcept nogil:
    """Every text row, key and map run the rows name is in range:
    SUM_JSON_OK, SUM_JSON_BAD_TEXT or SUM_JSON_BAD_MAP."""
    cdef size_t r, c, e
    cdef int64_t v
    cdef const SumJsonMap* m
    for r in range(d.nrows):
        for c in range(d.ncols):
            v = d.vals[r * d.ncols + c]
            if d.kinds[c] == SUM_TEXT_TEXT:
                if v < 0 or <size_t>v >= d.ntexts:
                    return SUM_JSON_BAD_TEXT
            elif d.kinds[c] >= SUM_TEXT_TOP0:
                m = &d.maps[d.kinds[c] - SUM_TEXT_TOP0]
                if m.lo == NULL or m.lo[d.first_row + r] < 0 \
                        or m.hi[d.first_row + r] < m.lo[d.first_row + r] \
                        or <size_t>m.hi[d.first_row + r] > m.n:
                    return SUM_JSON_BAD_MAP
                for e in range(<size_t>m.lo[d.first_row + r], <size_t>m.hi[d.first_row + r]):
                    if m.key[e] < 0 or <size_t>m.key[e] >= d.nkeys:
                        return SUM_JSON_BAD_MAP
    return SUM_JSON_OK


cdef void sum_text_widths(const SumTextIn* d, int64_t* widths) noexcept nogil:
    """widths[c] = the most code points a cell of column c takes (at least
    what widths[c] held)."""
    cdef size_t r, c, n
    cdef int64_t v
    cdef char buf[256]
    cdef char* end
    cdef char* big = NULL
    cdef size_t bound
    for r in range(d.nrows):
        for c in range(d.ncols):
            if d.kinds[c] == SUM_TEXT_TEXT:
                v = d.vals[r * d.ncols + c]
                n = sum_text_cps(d.texts + d.text_off[v], d.texts + d.text_off[v + 1])
            else:
                bound = sum_text_cell_bound(d, r, c)
                if bound <= sizeof(buf):
                    end = sum_text_cell(d, r, c, buf)
                    n = sum_text_cps(buf, end)
                else:
                    big = <char*>PyMem_RawMalloc(bound)
                    if big == NULL:
                        n = bound       # an overestimate: the table is only wider
                    else:
                        end = sum_text_cell(d, r, c, big)
                        n = sum_text_cps(big, end)
                        PyMem_RawFree(big)
            if <int64_t>n > widths[c]:
                widths[c] = <int64_t>n


cdef char* sum_text_write(const SumTextIn* d, const uint8_t* right, const int64_t* widths,
                          char* w) noexcept nogil:
    """The rows as lines at w (room from sum_text_bound): cells padded with
    spaces to their column's width (on the left where right[c], else on
    the right), two spaces between, trailing spaces dropped, each line
    ended by a newline.  The end of what was written."""
    cdef size_t r, c, n
    cdef char* start
    cdef char* line
    cdef char* end
    cdef int64_t pad
    for r in range(d.nrows):
        line = w
        for c in range(d.ncols):
            if c > 0:
                w[0] = 32
                w[1] = 32
                w += 2
            start = w
            end = sum_text_cell(d, r, c, w)
            n = sum_text_cps(start, end)
            pad = widths[c] - <int64_t>n
            if pad > 0 and right[c]:
                memmove(start + pad, start, <size_t>(end - start))
                memset(start, 32, <size_t>pad)
                end += pad
            elif pad > 0:
                memset(end, 32, <size_t>pad)
                end += pad
            w = end
        while w > line and w[-1] == 32:
            w -= 1
        w[0] = 10                   # '\n'
        w += 1
    return w


cdef size_t sum_text_bound(const SumTextIn* d, const int64_t* widths) noexcept nogil:
    cdef size_t r, c, need = 1
    for r in range(d.nrows):
        need += 1
        for c in range(d.ncols):
            need += sum_text_cell_bound(d, r, c) + <size_t>widths[c] + 2
    return need


cdef _sum_text_in(SumTextIn* d, list keep, vals, kinds, bytes texts, text_offsets, key_rank,
                  key_text, maps, Py_ssize_t first_row):
    """Fill d from text_rows' arguments (arrays kept alive in keep); checks
    every reference the rows make."""
    cdef cnp.ndarray v = np.ascontiguousarray(vals, dtype=np.int64)
    cdef cnp.ndarray k = np.ascontiguousarray(kinds, dtype=np.uint8)
    cdef cnp.ndarray to = np.ascontiguousarray(text_offsets, dtype=np.int64)
    cdef cnp.ndarray kr = np.ascontiguousarray(key_rank, dtype=np.int64)
    cdef cnp.ndarray kt = np.ascontiguousarray(key_text, dtype=np.int64)
    cdef size_t i
    cdef int st
    keep += [v, k, to, kr, kt, texts]
    if v.ndim != 2:
        raise ValueError("vals must be 2-d (rows x columns)")
    memset(d, 0, sizeof(SumTextIn))
    d.nrows, d.ncols = <size_t>v.shape[0], <size_t>v.shape[1]
    if k.ndim != 1 or <size_t>k.shape[0] != d.ncols or to.ndim != 1 or to.shape[0] < 1:
        raise ValueError("kinds and text_offsets do not fit vals")
    if kr.ndim != 1 or kt.ndim != 1 or kr.shape[0] != kt.shape[0]:
        raise ValueError("key_rank and key_text must be 1-d, one entry per key")
    if first_row < 0:
        raise ValueError("first_row must not be negative")
    d.vals = <const int64_t*>cnp.PyArray_DATA(v)
    d.kinds = <const uint8_t*>cnp.PyArray_DATA(k)
    d.texts = texts
    d.text_off = <const int64_t*>cnp.PyArray_DATA(to)
    d.ntexts = <size_t>to.shape[0] - 1
    d.key_rank = <const int64_t*>cnp.PyArray_DATA(kr)
    d.key_text = <const int64_t*>cnp.PyArray_DATA(kt)
    d.nkeys = <size_t>kr.shape[0]
    d.first_row = <size_t>first_row
    for i in range(d.ncols):
        if d.kinds[i] > SUM_TEXT_TOP1:
            raise ValueError(f"unknown column kind {d.kinds[i]}")
    _sum_check_text_offsets(d.text_off, d.ntexts, <size_t>len(texts))
    for i in range(d.nkeys):
        if d.key_text[i] < 0 or <size_t>d.key_text[i] >= d.ntexts:
            raise ValueError("key_text names a text row out of range")
    _sum_fill_maps(d.maps, maps, keep, d.first_row, d.nrows)
    with nogil:
        st = sum_text_check(d)
    if st == SUM_JSON_BAD_TEXT:
        raise ValueError("a text row is out of range")
    if st == SUM_JSON_BAD_MAP:
        raise ValueError("a map is missing, or its entries (lo, hi) or keys are out of range")


def text_widths(vals, kinds, bytes texts, text_offsets, key_rank, key_text, maps,
                Py_ssize_t first_row=0):
    """The most code points a cell of each column of :func:`text_rows`'
    table takes over the rows of ``vals`` (int64 array, one per column)."""
    cdef SumTextIn d
    cdef list keep = []
    _sum_text_in(&d, keep, vals, kinds, texts, text_offsets, key_rank, key_text, maps,
                 first_row)
    cdef cnp.ndarray out = np.zeros(d.ncols, dtype=np.int64)
    cdef int64_t* wp = <int64_t*>cnp.PyArray_DATA(out)
    with nogil:
        sum_text_widths(&d, wp)
    return out


def text_rows(vals, kinds, right, widths, bytes texts, text_offsets, key_rank, key_text, maps,
              Py_ssize_t first_row=0):
    """Lines of a table, one per row of ``vals`` (int64, rows x columns), as
    UTF-8 bytes, each ended by a newline.

    Cells are padded with spaces to ``widths[c]`` code points (on the left
    where ``right[c]`` is true), two spaces between them, trailing spaces
    dropped.  Column ``c`` holds, by ``kinds[c]``: TEXT_INT the int64 in
    decimal; TEXT_DUR the int64 ns as
    :func:`fastrace.analysis.summary.format_duration` writes it; TEXT_TEXT
    the text of row ``vals[r, c]`` of the texts table
    (``texts[text_offsets[t]:text_offsets[t+1]]``, UTF-8); TEXT_TOP0 or
    TEXT_TOP1 the largest entry of the row's map in ``maps[0]`` or
    ``maps[1]`` (``(lo, hi, key, val)`` as for :func:`json_rows`, the keys
    being keys of ``key_rank``/``key_text``): the text of row
    ``key_text[key]``, ": ", the value as a duration, and " +n" where the
    map has n more keys; ties go to the key of highest ``key_rank``; empty
    for an empty map.  Used by
    :func:`fastrace.analysis.summary.goroutines_text_chunks`."""
    cdef SumTextIn d
    cdef list keep = []
    cdef size_t total
    cdef char* w
    cdef char* end
    cdef PyObject* out
    _sum_text_in(&d, keep, vals, kinds, texts, text_offsets, key_rank, key_text, maps,
                 first_row)
    cdef cnp.ndarray rt = np.ascontiguousarray(right, dtype=np.uint8)
    cdef cnp.ndarray wd = np.ascontiguousarray(widths, dtype=np.int64)
    if rt.ndim != 1 or wd.ndim != 1 or <size_t>rt.shape[0] != d.ncols \
            or <size_t>wd.shape[0] != d.ncols:
        raise ValueError("right and widths need one entry per column")
    if (wd < 0).any() or (wd > 1 << 20).any():
        raise ValueError("widths must be between 0 and 2**20")
    cdef const uint8_t* rp = <const uint8_t*>cnp.PyArray_DATA(rt)
    cdef const int64_t* wp = <const int64_t*>cnp.PyArray_DATA(wd)
    with nogil:
        total = sum_text_bound(&d, wp)
    out = sum_bytes_new(NULL, <Py_ssize_t>total)
    if out == NULL:
        raise MemoryError("out of memory writing the table")
    w = sum_bytes_data(out)
    with nogil:
        end = sum_text_write(&d, rp, wp, w)
    if sum_bytes_resize(&out, <Py_ssize_t>(end - w)) < 0:
        raise MemoryError("out of memory writing the table")    # out was freed
    result = <object>out
    Py_DECREF(result)
    return result
