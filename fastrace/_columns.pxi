# Included by _analysis.pyx: assembling a wide structured table from
# columns, row by row.
#
# Python-level passes (the experiment interpreters) compute their columns as
# separate contiguous arrays and then need them in one structured array.
# Writing those columns one at a time into a table of wide rows touches every
# row's cache lines once per column: for the 8 M heap-object rows (125 bytes)
# of a 61 MB AllocFree trace that was 0.1 s a column, 1.7 s in all.  Writing
# each row whole while it is in cache costs one pass.

from libc.string cimport memcpy


def pack_columns(cnp.ndarray out, dict columns):
    """Write ``columns`` (field name -> 1-d array of ``len(out)`` values)
    into the fields of the one-dimensional, contiguous structured array
    ``out``, row by row; fields not named keep their values.  Each column
    is converted to its field's dtype first (numpy's casting rules, as for
    ``out[name] = column``).  Object fields cannot be written this way
    (TypeError): assign those as usual."""
    cdef Py_ssize_t n, k, i, nf = len(columns)
    if out.ndim != 1 or out.dtype.names is None or not out.flags.c_contiguous \
            or not out.flags.writeable:
        raise TypeError("pack_columns: out must be a writeable, contiguous, "
                        "one-dimensional structured array")
    n = out.shape[0]
    if nf == 0 or n == 0:
        for name, col in columns.items():
            _packed_column(out, name, col, n)
        return
    cdef Py_ssize_t[:] offset = np.empty(nf, np.intp)
    cdef Py_ssize_t[:] size = np.empty(nf, np.intp)
    cdef Py_ssize_t[:] source = np.empty(nf, np.intp)
    keep = []                       # the converted columns, alive until the end
    k = 0
    for name, col in columns.items():
        col, off = _packed_column(out, name, col, n)
        keep.append(col)
        offset[k] = off
        size[k] = col.dtype.itemsize
        source[k] = <Py_ssize_t>cnp.PyArray_DATA(<cnp.ndarray>col)
        k += 1
    cdef char* base = <char*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t stride = out.dtype.itemsize, w
    cdef char* row
    with nogil:
        for i in range(n):
            row = base + i * stride
            for k in range(nf):
                w = size[k]
                # Constant sizes let the compiler turn each copy into one
                # (unaligned) load and store: fields of packed dtypes are
                # not aligned.
                if w == 8:
                    memcpy(row + offset[k], <char*>source[k] + i * 8, 8)
                elif w == 4:
                    memcpy(row + offset[k], <char*>source[k] + i * 4, 4)
                elif w == 1:
                    memcpy(row + offset[k], <char*>source[k] + i, 1)
                else:
                    memcpy(row + offset[k], <char*>source[k] + i * w, <size_t>w)


cdef tuple _packed_column(cnp.ndarray out, name, col, Py_ssize_t n):
    """``col`` as a contiguous array of field ``name``'s dtype, and the
    field's byte offset; TypeError/ValueError for what cannot be packed."""
    fields = out.dtype.fields
    if not isinstance(name, str) or name not in fields:
        raise ValueError(f"pack_columns: the table has no field {name!r} "
                         f"(fields: {', '.join(out.dtype.names)})")
    ftype, off = fields[name][:2]
    if ftype.hasobject or ftype.subdtype is not None or ftype.names is not None:
        raise TypeError(f"pack_columns: field {name!r} ({ftype}) is not a plain number "
                        "field; assign it as out[name] = column")
    col = np.ascontiguousarray(col)
    if col.ndim != 1 or col.shape[0] != n:
        raise ValueError(f"pack_columns: column {name!r} has shape {col.shape}, "
                         f"the table {n} rows")
    if col.dtype != ftype:
        col = np.ascontiguousarray(col.astype(ftype, casting="unsafe"))
    return col, off
