"""LZ-String's URI-safe encoding, the two functions the sandbox needs.

The bank's payment-api.js hands the payment object to the payment page as
``LZString.compressToEncodedURIComponent(...)`` (pieroxy's LZ-String 1.4.4). This module
implements exactly that function and its inverse, written here from the algorithm, instead of
depending on the PyPI ``lzstring`` package: that package is unmaintained (last release 2018),
pulls in ``future`` (a Python 2 compatibility layer) and mishandles characters outside the
Basic Multilingual Plane.

The algorithm is LZW over JavaScript string *code units* (UTF-16: a character above U+FFFF is
two units, a surrogate pair), with a growing code width:

* the dictionary starts with three reserved codes: 0 (a new 8-bit unit follows), 1 (a new
  16-bit unit follows) and 2 (end of stream); every unit seen for the first time is written
  as 0 or 1 followed by its value, and then becomes a code of its own;
* after each emitted phrase the phrase plus the next unit is added to the dictionary, and
  the code width (2 bits at first) grows by one bit whenever the codes no longer fit;
* codes are written least significant bit first into a bit stream that is cut into 6-bit
  groups, each written as one character of ``A-Za-z0-9+-$``; the last group is padded with
  zero bits.

Python strings are sequences of code points, so ``compress_to_encoded_uri_component`` first
spells astral characters as surrogate pairs (as a JavaScript string holds them) and
``decompress_from_encoded_uri_component`` joins the pairs again: any text round-trips, and the
output is byte for byte what the JavaScript library produces for the same string.

Decoding untrusted input: every malformed input (a character outside the alphabet, an unknown
code, a stream that ends without its end marker, an empty string) raises ``ValueError`` where
the JavaScript library returns ``null`` or ``""`` or throws, and the output is capped
(``max_length`` code units, 1 MiB by default): LZW output can grow with the square of its
input, so a short crafted value could otherwise ask for gigabytes.
"""

from __future__ import annotations

__all__ = [
    "MAX_DECOMPRESSED_LENGTH",
    "compress_to_encoded_uri_component",
    "decompress_from_encoded_uri_component",
]

#: The URI-safe alphabet: a 6-bit value is the index of its character.
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-$"
_VALUES = {char: index for index, char in enumerate(ALPHABET)}
_BITS_PER_CHAR = 6

#: Default cap on what decompression may produce, in UTF-16 code units.
MAX_DECOMPRESSED_LENGTH = 1 << 20

_NEW_8BIT, _NEW_16BIT, _END = 0, 1, 2


def _code_units(text: str) -> str:
    """``text`` as JavaScript holds it: one str character per UTF-16 code unit."""
    if all(ord(char) <= 0xFFFF for char in text):
        return text
    units = []
    for char in text:
        point = ord(char)
        if point > 0xFFFF:
            point -= 0x10000
            units.append(chr(0xD800 | (point >> 10)))
            units.append(chr(0xDC00 | (point & 0x3FF)))
        else:
            units.append(char)
    return "".join(units)


def _from_code_units(units: str) -> str:
    """Join surrogate pairs into code points (a lone surrogate, which a JavaScript string may
    hold, stays as it is)."""
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


class _BitWriter:
    """Codes in, URI-safe characters out: each code least significant bit first, the stream
    cut into 6-bit characters (most significant bit first within a character)."""

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.value = 0
        self.position = 0

    def write(self, code: int, width: int) -> None:
        for _ in range(width):
            self.value = (self.value << 1) | (code & 1)
            code >>= 1
            self.position += 1
            if self.position == _BITS_PER_CHAR:
                self.chars.append(ALPHABET[self.value])
                self.value = 0
                self.position = 0

    def finish(self) -> str:
        # The JavaScript library always writes one more character: the pending bits padded
        # with zeros, or a whole "A" when nothing is pending.
        self.chars.append(ALPHABET[self.value << (_BITS_PER_CHAR - self.position)])
        return "".join(self.chars)


def compress_to_encoded_uri_component(text: str) -> str:
    """LZ-String 1.4.4's ``compressToEncodedURIComponent(text)``: URI-safe ASCII."""
    units = _code_units(text)
    dictionary: dict[str, int] = {}
    pending: set[str] = set()  # single units entered in the dictionary but not yet written
    next_code = 3
    width = 2
    enlarge_in = 2  # codes left at this width (the first entry does not count)
    out = _BitWriter()

    def emit(phrase: str) -> None:
        nonlocal width, enlarge_in
        if phrase in pending:
            unit = ord(phrase)
            if unit < 256:
                out.write(_NEW_8BIT, width)
                out.write(unit, 8)
            else:
                out.write(_NEW_16BIT, width)
                out.write(unit, 16)
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in = 1 << width
                width += 1
            pending.discard(phrase)
        else:
            out.write(dictionary[phrase], width)
        enlarge_in -= 1
        if enlarge_in == 0:
            enlarge_in = 1 << width
            width += 1

    phrase = ""
    for unit in units:
        if unit not in dictionary:
            dictionary[unit] = next_code
            next_code += 1
            pending.add(unit)
        extended = phrase + unit
        if extended in dictionary:
            phrase = extended
            continue
        emit(phrase)
        dictionary[extended] = next_code
        next_code += 1
        phrase = unit
    if phrase:
        emit(phrase)
    out.write(_END, width)
    return out.finish()


def decompress_from_encoded_uri_component(
    data: str, *, max_length: int = MAX_DECOMPRESSED_LENGTH
) -> str:
    """LZ-String 1.4.4's ``decompressFromEncodedURIComponent(data)``.

    Spaces are read as ``+`` (as the JavaScript library does: a form decoder turns ``+`` into a
    space). Raises ``ValueError`` for malformed data (where the library answers ``null`` or
    ``""`` or throws) and when the text would exceed ``max_length`` UTF-16 code units.
    Characters after the end marker are ignored, as by the library.
    """
    if not data:
        raise ValueError("LZString data is empty")
    data = data.replace(" ", "+")
    length = len(data)
    index = 0  # next character to read
    value = 0  # the current character's 6 bits
    mask = 0  # the next bit of value to read; 0: read a character first

    def read(width: int) -> int:
        nonlocal index, value, mask
        code = 0
        for bit in range(width):
            if mask == 0:
                if index < length:
                    char = data[index]
                    if char not in _VALUES:
                        raise ValueError(f"LZString data has {char!r} at {index}")
                    value = _VALUES[char]
                else:  # past the end: zeros, as in the library (the loop then stops)
                    value = 0
                index += 1
                mask = 1 << (_BITS_PER_CHAR - 1)
            if value & mask:
                code |= 1 << bit
            mask >>= 1
        return code

    first = read(2)
    if first == _END:
        return ""
    if first not in (_NEW_8BIT, _NEW_16BIT):
        raise ValueError("LZString data does not start with a character")
    unit = chr(read(8 if first == _NEW_8BIT else 16))
    entries: list[str] = ["", "", "", unit]  # codes 0-2 are the markers
    width = 3
    enlarge_in = 4
    phrase = unit
    result = [unit]
    produced = 1
    while True:
        if index > length or (index == length and mask == 0):  # every bit read
            raise ValueError("LZString data ends without its end marker")
        code = read(width)
        if code == _END:
            return _from_code_units("".join(result))
        if code in (_NEW_8BIT, _NEW_16BIT):
            entries.append(chr(read(8 if code == _NEW_8BIT else 16)))
            code = len(entries) - 1
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in = 1 << width
                width += 1
        if code < len(entries):
            entry = entries[code]
        elif code == len(entries):
            entry = phrase + phrase[0]
        else:
            raise ValueError(f"LZString data refers to code {code} before it exists")
        produced += len(entry)
        if produced > max_length:
            raise ValueError(f"LZString data decompresses to more than {max_length} code units")
        result.append(entry)
        entries.append(phrase + entry[0])
        enlarge_in -= 1
        phrase = entry
        if enlarge_in == 0:
            enlarge_in = 1 << width
            width += 1
