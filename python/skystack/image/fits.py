# SPDX-License-Identifier: GPL-3.0-or-later
"""Multi-extension FITS files for `Image`, `MaskedImage` and `Exposure` (the afw layout).

File layout (all HDUs carry ``EXTNAME``):

====  ==============  =====================================================================
HDU   EXTNAME         contents
====  ==============  =====================================================================
0     PRIMARY         no data; the exposure ``metadata`` cards, plus ``SKYTYPE`` (``IMAGE``,
                      ``MASKEDIMAGE`` or ``EXPOSURE``), ``SKYFVER`` (format version),
                      ``SKYNHDU`` (number of HDUs) and ``SKYCOMP`` (component extensions)
1     IMAGE           pixels; the WCS, and ``LTV1/LTV2 = -x0/-y0`` with a ``PHYSICAL``
                      alternate WCS ``A`` so DS9 shows parent pixel coordinates
2     MASK            int mask; ``MP_<NAME> = bit`` cards for the plane dictionary; the WCS
3     VARIANCE        float variance; the WCS
…     PSF,            one binary-table HDU per component present, ``EXTTYPE = 'JSON'``: one
      PHOTOCALIB,     row, one ``JSON`` string column holding the object as written by
      APCORR,         `skystack.utils.persist.dump_persistable` (``OBJTYPE`` names its type)
      VISITINFO
====  ==============  =====================================================================

The file's pixel grid starts at 0 at ``xy0``: the stored WCS is the exposure's WCS shifted with
``shifted_pixel_origin(x0, y0)``, so astropy and DS9 place the file's pixels on the sky directly.
With ``compression="lossless"`` the pixel HDUs are tile-compressed (``RICE_1`` for integers,
``GZIP_2`` without quantization for floats); round trips are bit-exact either way.

Reading a sub-box (``bbox=``) reads only the rows it needs (astropy ``section`` access, which
for compressed files decompresses only the overlapping tiles). Writes go to a temporary file in
the destination folder that is then renamed over the target (``os.replace``), so an interrupted
write never leaves a partial file at the target path (the rename is atomic; the data are not
fsync'ed, so durability across a power cut is the file system's).

Problems with a file's contents raise `FitsError` (an `OSError`) naming the file and what is
wrong; a missing file raises the usual `FileNotFoundError`.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
from astropy.io import fits

from skystack.geom import Box2I
from skystack.utils.byteswap import byteswap_inplace
from skystack.utils.persist import (
    PersistenceError,
    dump_persistable,
    dumps_json,
    load_persistable,
    loads_json,
)

from .exposure import Exposure, VisitInfo
from .image import Image, ImageBase
from .mask import Mask, MaskPlaneError
from .masked_image import MaskedImage

__all__ = [
    "COMPONENT_NAMES",
    "FitsError",
    "read_exposure",
    "read_exposure_component",
    "read_image",
    "read_masked_image",
    "write_exposure",
    "write_image",
    "write_masked_image",
]

FORMAT_VERSION = 1
#: Component name → EXTNAME of its JSON extension.
_COMPONENT_EXT = {
    "psf": "PSF",
    "photo_calib": "PHOTOCALIB",
    "ap_corr_map": "APCORR",
    "visit_info": "VISITINFO",
}
#: Names accepted by `read_exposure_component`.
COMPONENT_NAMES: tuple[str, ...] = ("wcs", *_COMPONENT_EXT, "bbox", "metadata", "mask_plane_dict")
_PLANES_BY_TYPE = {"IMAGE": ("IMAGE",), "MASKEDIMAGE": ("IMAGE", "MASK", "VARIANCE")}
_PLANES_BY_TYPE["EXPOSURE"] = _PLANES_BY_TYPE["MASKEDIMAGE"]
_RESERVED = {"SKYTYPE", "SKYFVER", "SKYNHDU", "SKYCOMP"}
_STRUCTURAL = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "XTENSION", "EXTNAME", "EXTVER"}
_STRUCTURAL |= {"BSCALE", "BZERO", "BLANK", "CHECKSUM", "DATASUM", "NAXIS1", "NAXIS2", "NAXIS3"}
Compression = Literal["lossless"] | None


class FitsError(OSError):
    """A file is not a valid skystack FITS file (not FITS, truncated, missing or wrong HDUs).

    Attributes
    ----------
    path : `str`
        The file.
    reason : `str`
        What is wrong with it.
    """

    def __init__(self, path: str | PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# -- writing ---------------------------------------------------------------------------------------
def _wcs_cards(wcs: Any, xy0: tuple[int, int]) -> fits.Header:
    header = fits.Header()
    if wcs is not None:
        x0, y0 = xy0
        file_wcs = wcs.shifted_pixel_origin(x0, y0) if (x0, y0) != (0, 0) else wcs
        header.update(file_wcs.to_fits_header())
    return header


def _pixel_header(extname: str, xy0: tuple[int, int], wcs_header: fits.Header) -> fits.Header:
    x0, y0 = xy0
    header = fits.Header()
    header["EXTTYPE"] = (extname, "skystack pixel plane")
    header.update(wcs_header)
    header["LTV1"] = (-x0, "-x0: file pixel = parent pixel + LTV (IRAF/afw)")
    header["LTV2"] = (-y0, "-y0")
    header["CRPIX1A"] = (1.0, "first file pixel (1-based)")
    header["CRPIX2A"] = 1.0
    header["CRVAL1A"] = (float(x0), "parent x of the first pixel")
    header["CRVAL2A"] = float(y0)
    header["CTYPE1A"] = "LINEAR"
    header["CTYPE2A"] = "LINEAR"
    header["CUNIT1A"] = "pixel"
    header["CUNIT2A"] = "pixel"
    header["WCSNAMEA"] = "PHYSICAL"
    return header


def _pixel_hdu(plane: ImageBase, extname: str, header: fits.Header, compression: Compression) -> Any:
    if compression is None:
        return fits.ImageHDU(data=plane.array, header=header, name=extname)
    if plane.dtype.kind == "f":
        return fits.CompImageHDU(
            data=plane.array,
            header=header,
            name=extname,
            compression_type="GZIP_2",
            quantize_level=0.0,
        )
    return fits.CompImageHDU(data=plane.array, header=header, name=extname, compression_type="RICE_1")


def _json_hdu(extname: str, obj: Any) -> fits.BinTableHDU:
    text = dumps_json(dump_persistable(obj)).encode("ascii")
    column = fits.Column(name="JSON", format=f"{max(len(text), 1)}A", array=np.array([text]))
    hdu = fits.BinTableHDU.from_columns([column], name=extname)
    hdu.header["EXTTYPE"] = ("JSON", "one persisted skystack object")
    hdu.header["OBJTYPE"] = (type(obj)._persistable_name, "persisted type name")
    return hdu


def _primary_hdu(kind: str, metadata: fits.Header | None) -> fits.PrimaryHDU:
    header = fits.Header()
    if metadata is not None:
        for card in metadata.cards:
            if card.keyword not in _STRUCTURAL and card.keyword not in _RESERVED:
                header.append(card, end=True)
    primary = fits.PrimaryHDU(header=header)
    primary.header["SKYTYPE"] = (kind, "skystack object in this file")
    primary.header["SKYFVER"] = (FORMAT_VERSION, "skystack FITS layout version")
    return primary


def _write(path: str | PathLike[str], hdus: list[Any], components: list[str]) -> None:
    primary = hdus[0]
    primary.header["SKYNHDU"] = (len(hdus), "number of HDUs in this file")
    primary.header["SKYCOMP"] = (",".join(components), "component extensions present")
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as stream, warnings.catch_warnings():
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            fits.HDUList(hdus).writeto(stream)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check_compression(compression: Compression) -> None:
    if compression not in (None, "lossless"):
        raise ValueError(f"compression must be None or 'lossless', got {compression!r}")


def _masked_image_hdus(masked_image: MaskedImage, wcs: Any, compression: Compression) -> list[Any]:
    xy0 = masked_image.xy0
    wcs_header = _wcs_cards(wcs, xy0)
    mask_header = _pixel_header("MASK", xy0, wcs_header)
    for name, bit in masked_image.mask.plane_dict.items():
        keyword = f"MP_{name}"
        mask_header[keyword if len(keyword) <= 8 else f"HIERARCH {keyword}"] = bit
    return [
        _pixel_hdu(masked_image.image, "IMAGE", _pixel_header("IMAGE", xy0, wcs_header), compression),
        _pixel_hdu(masked_image.mask, "MASK", mask_header, compression),
        _pixel_hdu(
            masked_image.variance, "VARIANCE", _pixel_header("VARIANCE", xy0, wcs_header), compression
        ),
    ]


def write_exposure(path: str | PathLike[str], exposure: Exposure, compression: Compression = None) -> None:
    """Write an `Exposure` to a multi-extension FITS file (layout in the module docstring).

    Parameters
    ----------
    path : `str` or path-like
        Destination; an existing file is replaced atomically.
    exposure : `Exposure`
        What to write. PSF, PhotoCalib and aperture-correction objects must be registered
        persistables.
    compression : {None, "lossless"}
        Tile-compress the pixel HDUs losslessly.

    Raises
    ------
    ValueError
        If ``compression`` is not recognised.
    skystack.utils.persist.PersistenceError
        If a component is not a registered persistable.
    """
    _check_compression(compression)
    if not isinstance(exposure, Exposure):
        raise TypeError(f"write_exposure needs an Exposure, got {type(exposure).__name__}")
    hdus: list[Any] = [_primary_hdu("EXPOSURE", exposure.metadata)]
    hdus += _masked_image_hdus(exposure.masked_image, exposure.wcs, compression)
    components = []
    for name, extname in _COMPONENT_EXT.items():
        obj = getattr(exposure, name)
        if obj is not None:
            hdus.append(_json_hdu(extname, obj))
            components.append(extname)
    _write(path, hdus, components)


def write_masked_image(
    path: str | PathLike[str],
    masked_image: MaskedImage,
    *,
    wcs: Any = None,
    metadata: fits.Header | None = None,
    compression: Compression = None,
) -> None:
    """Write a `MaskedImage` (IMAGE, MASK, VARIANCE HDUs), optionally with a WCS and metadata."""
    _check_compression(compression)
    hdus: list[Any] = [_primary_hdu("MASKEDIMAGE", metadata)]
    hdus += _masked_image_hdus(masked_image, wcs, compression)
    _write(path, hdus, [])


def write_image(
    path: str | PathLike[str],
    image: Image,
    *,
    wcs: Any = None,
    metadata: fits.Header | None = None,
    compression: Compression = None,
) -> None:
    """Write an `Image` (one IMAGE HDU after an empty primary), optionally with a WCS and metadata."""
    _check_compression(compression)
    header = _pixel_header("IMAGE", image.xy0, _wcs_cards(wcs, image.xy0))
    _write(path, [_primary_hdu("IMAGE", metadata), _pixel_hdu(image, "IMAGE", header, compression)], [])


# -- reading ---------------------------------------------------------------------------------------
# The reader locates HDUs by scanning the 2880-byte header blocks itself and reads uncompressed
# pixels straight from the data blocks (memory map for cut-outs, chunked read for whole planes).
# astropy's generic HDU machinery costs milliseconds per file, which would dominate small
# cut-out reads; astropy still parses every header we use (``Header.fromstring``), builds the
# WCS and reads tile-compressed HDUs.
_BLOCK = 2880
_CARD = 80
_RAW_DTYPES = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
# BZERO values that store unsigned integers in signed FITS integers (and int8 in uint8): the
# stored value differs from the true one only in its sign bit.
_SIGN_FLIP_BZERO = {8: -128, 16: 1 << 15, 32: 1 << 31, 64: 1 << 63}
_CHUNK_BYTES = 1 << 18  # 256 KiB: each chunk is byte-swapped while still in cache


def _card_value(text: str) -> Any:
    """Parse the value part of a card (after ``= ``): str, bool, int, float or None."""
    text = text.strip()
    if text.startswith("'"):
        end, pieces = 1, []
        while True:
            quote = text.find("'", end)
            if quote < 0:
                raise ValueError(f"unterminated string in card value {text!r}")
            pieces.append(text[end:quote])
            if text[quote + 1 : quote + 2] == "'":
                pieces.append("'")
                end = quote + 2
                continue
            return "".join(pieces).rstrip()
    value = text.split("/", 1)[0].strip()
    if value in ("T", "F"):
        return value == "T"
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return float(value.replace("D", "E"))


class _Cards(Mapping[str, Any]):
    """Card values of one header by keyword, parsed only when looked up (most never are)."""

    __slots__ = ("_index", "_parsed", "_path", "_raw")

    def __init__(self, path: str | PathLike[str], index: int) -> None:
        self._path, self._index = path, index
        self._raw: dict[str, str] = {}
        self._parsed: dict[str, Any] = {}

    def add(self, keyword: str, value_text: str) -> None:
        self._raw.setdefault(keyword, value_text)

    def __getitem__(self, keyword: str) -> Any:
        try:
            return self._parsed[keyword]
        except KeyError:
            pass
        text = self._raw[keyword]
        try:
            value = self._parsed[keyword] = _card_value(text)
        except ValueError as err:
            raise FitsError(self._path, f"bad card {keyword} in HDU {self._index}: {err}") from None
        return value

    def __contains__(self, keyword: object) -> bool:
        return keyword in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


class _Hdu:
    """One HDU found by `_FitsFile`: its raw header, its cards and where its data are."""

    __slots__ = ("_header", "cards", "data_offset", "data_size", "index", "name", "raw")

    def __init__(self, index: int, raw: bytes, cards: _Cards, data_offset: int, data_size: int):
        self.index = index
        self.raw = raw
        self.cards = cards
        self.data_offset = data_offset
        self.data_size = data_size
        self.name = str(cards.get("EXTNAME", "PRIMARY" if index == 0 else "")).upper()
        self._header: fits.Header | None = None

    @property
    def header(self) -> fits.Header:
        """The full header (parsed by astropy on first use)."""
        if self._header is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fits.verify.VerifyWarning)
                self._header = fits.Header.fromstring(self.raw.decode("ascii"))
        return self._header

    @property
    def is_compressed_image(self) -> bool:
        return self.cards.get("XTENSION") == "BINTABLE" and self.cards.get("ZIMAGE") is True

    def image_shape(self) -> tuple[int, int] | None:
        """``(rows, columns)`` of the 2-D image this HDU holds, or None if it holds none."""
        prefix = "Z" if self.is_compressed_image else ""
        is_image = self.index == 0 or self.cards.get("XTENSION") == "IMAGE" or prefix == "Z"
        if not is_image or self.cards.get(f"{prefix}NAXIS") != 2:
            return None
        return (int(self.cards[f"{prefix}NAXIS2"]), int(self.cards[f"{prefix}NAXIS1"]))


class _FitsFile:
    """The HDUs of a skystack FITS file, checked for completeness; open with `_open`."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = path
        self.size = os.path.getsize(path)
        self.hdus: list[_Hdu] = []
        self._astropy: fits.HDUList | None = None
        if self.size == 0:
            raise FitsError(path, "file is truncated or not FITS: it is empty")
        with open(path, "rb") as stream:
            offset = 0
            while offset < self.size:
                self.hdus.append(self._scan_hdu(stream, len(self.hdus), offset))
                last = self.hdus[-1]
                offset = last.data_offset + -(-last.data_size // _BLOCK) * _BLOCK
        primary = self.hdus[0].cards
        kind = primary.get("SKYTYPE")
        if kind not in _PLANES_BY_TYPE:
            raise FitsError(
                path,
                "not a skystack image file (primary header has no valid SKYTYPE); "
                "it was not written by skystack.image.fits",
            )
        self.kind: str = kind
        if primary.get("SKYNHDU") != len(self.hdus):
            raise FitsError(
                path,
                f"file is truncated or damaged: it holds {len(self.hdus)} HDUs, its header "
                f"says {primary.get('SKYNHDU')}",
            )
        self.components = [c for c in str(primary.get("SKYCOMP") or "").split(",") if c]

    def _scan_hdu(self, stream: Any, index: int, offset: int) -> _Hdu:
        stream.seek(offset)
        blocks: list[bytes] = []
        cards = _Cards(self.path, index)
        while True:
            block = stream.read(_BLOCK)
            if len(block) < _BLOCK:
                what = "the FITS header" if index == 0 and not blocks else f"header of HDU {index}"
                raise FitsError(self.path, f"file is truncated or not FITS: {what} is incomplete")
            if index == 0 and not blocks and not block.startswith(b"SIMPLE  =                    T"):
                raise FitsError(self.path, "not a FITS file (it does not start with SIMPLE = T)")
            blocks.append(block)
            try:
                text = block.decode("ascii")
            except UnicodeDecodeError:
                raise FitsError(self.path, f"header of HDU {index} is not ASCII: not a FITS file") from None
            for start in range(0, _BLOCK, _CARD):
                card = text[start : start + _CARD]
                keyword = card[:8].rstrip()
                if keyword == "END":
                    return self._finish(index, b"".join(blocks), cards, offset + len(blocks) * _BLOCK)
                value_text = card[10:] if card[8:10] == "= " else None
                if keyword == "HIERARCH" and "=" in card:
                    long_keyword, _, value_text = card[9:].partition("=")
                    keyword = long_keyword.strip().upper()
                if value_text is not None:
                    cards.add(keyword, value_text)

    def _finish(self, index: int, raw: bytes, cards: _Cards, data_offset: int) -> _Hdu:
        try:
            naxis = int(cards.get("NAXIS", 0))
            count = 1 if naxis else 0
            for axis in range(1, naxis + 1):
                count *= int(cards[f"NAXIS{axis}"])
            size = abs(int(cards["BITPIX"])) // 8 * int(cards.get("GCOUNT", 1))
            size *= int(cards.get("PCOUNT", 0)) + count
        except (KeyError, TypeError, ValueError) as err:
            raise FitsError(self.path, f"HDU {index} has an invalid structure ({err!r})") from None
        if data_offset + size > self.size:
            raise FitsError(
                self.path,
                f"file is truncated: the data of HDU {index} end at byte {data_offset + size}, "
                f"the file has {self.size} bytes",
            )
        return _Hdu(index, raw, cards, data_offset, size)

    def hdu(self, extname: str) -> _Hdu:
        for hdu in self.hdus:
            if hdu.name == extname:
                return hdu
        names = ", ".join(h.name for h in self.hdus)
        raise FitsError(self.path, f"missing extension {extname} (HDUs present: {names})")

    def astropy_hdu(self, hdu: _Hdu) -> Any:
        """The astropy HDU object for ``hdu`` (used for tile-compressed pixels)."""
        if self._astropy is None:
            self._astropy = fits.open(self.path, memmap=False, lazy_load_hdus=True)
        return self._astropy[hdu.index]

    def close(self) -> None:
        if self._astropy is not None:
            self._astropy.close()
            self._astropy = None


@contextmanager
def _open(path: str | PathLike[str]) -> Iterator[_FitsFile]:
    """Open and check a skystack FITS file (FileNotFoundError if absent, else FitsError)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such FITS file: {os.fspath(path)}")
    if os.path.isdir(path):
        raise FitsError(path, "is a directory, not a FITS file")
    ffile = _FitsFile(path)
    try:
        yield ffile
    finally:
        ffile.close()


def _file_bbox(ffile: _FitsFile) -> Box2I:
    hdu = ffile.hdu("IMAGE")
    shape = hdu.image_shape()
    if shape is None:
        raise FitsError(ffile.path, "the IMAGE extension is not a 2-D image")
    ltv1, ltv2 = hdu.cards.get("LTV1", 0), hdu.cards.get("LTV2", 0)
    if not isinstance(ltv1, int | float) or not isinstance(ltv2, int | float):
        raise FitsError(ffile.path, f"IMAGE header has non-numeric LTV1/LTV2 ({ltv1!r}, {ltv2!r})")
    return Box2I(-int(ltv1), -int(ltv2), shape[1], shape[0])


def _read_uncompressed(ffile: _FitsFile, hdu: _Hdu, file_bbox: Box2I, bbox: Box2I | None) -> np.ndarray:
    """Native-order pixels of an uncompressed image HDU (whole, or the rows and columns of bbox)."""
    cards = hdu.cards
    bitpix, bscale, bzero = cards.get("BITPIX"), cards.get("BSCALE", 1), cards.get("BZERO", 0)
    if bitpix not in _RAW_DTYPES or bscale != 1 or bzero not in (0, _SIGN_FLIP_BZERO.get(bitpix)):
        raise FitsError(
            ffile.path,
            f"extension {hdu.name} has BITPIX={bitpix}, BSCALE={bscale}, BZERO={bzero}: scaled pixels "
            "are not a skystack pixel type",
        )
    raw = np.dtype(_RAW_DTYPES[bitpix])
    native = raw.newbyteorder("=")
    if bbox is None:
        data = np.empty(file_bbox.shape, dtype=native)
        flat = data.reshape(-1)
        step = max(_CHUNK_BYTES // native.itemsize, 1)
        with open(ffile.path, "rb", buffering=0) as stream:
            stream.seek(hdu.data_offset)
            for start in range(0, flat.size, step):
                chunk = flat[start : start + step]
                if stream.readinto(chunk.data.cast("B")) != chunk.nbytes:
                    raise FitsError(ffile.path, f"file ends inside the pixels of extension {hdu.name}")
                if not raw.isnative:
                    byteswap_inplace(chunk)  # while the chunk is still in cache
    else:
        mapped = np.memmap(ffile.path, dtype=raw, mode="r", offset=hdu.data_offset, shape=file_bbox.shape)
        data = np.array(mapped[bbox.slices(file_bbox.xy0)], dtype=native, copy=True)
        del mapped
    if bzero:
        flipped = np.dtype(f"{'i' if raw.kind == 'u' else 'u'}{raw.itemsize}")
        data = data.view(flipped)
        data ^= flipped.type(1 << (8 * raw.itemsize - 1))
    return data


def _read_plane(ffile: _FitsFile, extname: str, file_bbox: Box2I, bbox: Box2I | None) -> np.ndarray:
    hdu = ffile.hdu(extname)
    if hdu.image_shape() != file_bbox.shape:
        raise FitsError(ffile.path, f"extension {extname} is not a 2-D image of shape {file_bbox.shape}")
    if not hdu.is_compressed_image:
        return _read_uncompressed(ffile, hdu, file_bbox, bbox)
    try:
        ahdu = ffile.astropy_hdu(hdu)
        data = ahdu.data if bbox is None else ahdu.section[bbox.slices(file_bbox.xy0)]
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise FitsError(ffile.path, f"cannot decompress the pixels of extension {extname} ({err})") from err
    if data.dtype.isnative and data.flags.owndata and data.flags.writeable:
        return np.asarray(data)
    return np.array(data, dtype=data.dtype.newbyteorder("="), copy=True)


def _check_bbox(path: str | PathLike[str], file_bbox: Box2I, bbox: Box2I | None) -> None:
    if bbox is None:
        return
    if not isinstance(bbox, Box2I):
        raise TypeError(f"bbox must be a Box2I, got {type(bbox).__name__}")
    if bbox.is_empty or not file_bbox.contains_box(bbox):
        raise ValueError(
            f"Requested bbox {bbox!r} is not inside the bbox {file_bbox!r} of {os.fspath(path)} "
            "(parent coordinates)"
        )


def _plane_dict(ffile: _FitsFile) -> dict[str, int]:
    cards = ffile.hdu("MASK").cards
    planes = {keyword[3:]: value for keyword, value in cards.items() if keyword.startswith("MP_")}
    for name, bit in planes.items():
        if isinstance(bit, bool) or not isinstance(bit, int):
            raise FitsError(ffile.path, f"mask plane card MP_{name} has non-integer value {bit!r}")
    return planes


def _read_image(ffile: _FitsFile, bbox: Box2I | None) -> Image:
    file_bbox = _file_bbox(ffile)
    _check_bbox(ffile.path, file_bbox, bbox)
    xy0 = file_bbox.xy0 if bbox is None else bbox.xy0
    try:
        return Image(_read_plane(ffile, "IMAGE", file_bbox, bbox), xy0)
    except TypeError as err:
        raise FitsError(ffile.path, f"invalid IMAGE extension ({err})") from err


def _read_masked_image(ffile: _FitsFile, bbox: Box2I | None) -> MaskedImage:
    image = _read_image(ffile, bbox)
    if ffile.kind == "IMAGE":
        return MaskedImage(image)
    file_bbox = _file_bbox(ffile)
    try:
        mask_pixels = _read_plane(ffile, "MASK", file_bbox, bbox)
        mask = Mask(mask_pixels, image.xy0, _plane_dict(ffile))
        variance = Image(_read_plane(ffile, "VARIANCE", file_bbox, bbox), image.xy0)
        return MaskedImage(image, mask, variance)
    except (TypeError, MaskPlaneError) as err:
        raise FitsError(ffile.path, f"invalid MASK or VARIANCE extension ({err})") from err


def _read_wcs(ffile: _FitsFile) -> Any:
    hdu = ffile.hdu("IMAGE")
    if "CTYPE1" not in hdu.cards:
        return None
    from skystack.geom.wcs import SkyWcs

    try:
        file_wcs = SkyWcs.from_header_text(hdu.raw.decode("ascii"))
    except (ValueError, KeyError, TypeError) as err:
        raise FitsError(ffile.path, f"invalid WCS in the IMAGE header ({err})") from err
    x0, y0 = _file_bbox(ffile).xy0
    return file_wcs.shifted_pixel_origin(-x0, -y0) if (x0, y0) != (0, 0) else file_wcs


def _read_json_component(ffile: _FitsFile, name: str) -> Any:
    extname = _COMPONENT_EXT[name]
    if extname not in ffile.components:
        return None
    hdu = ffile.hdu(extname)
    cards = hdu.cards
    try:
        if cards.get("TTYPE1") != "JSON" or not str(cards.get("TFORM1", "")).endswith("A"):
            raise ValueError("it is not a one-column JSON table")
        if cards.get("NAXIS2") != 1:
            raise ValueError(f"it has {cards.get('NAXIS2')} rows instead of 1")
        with open(ffile.path, "rb") as stream:
            stream.seek(hdu.data_offset)
            text = stream.read(int(cards["NAXIS1"])).rstrip(b"\x00 ")
        data = loads_json(text)
        return load_persistable(data, expected=VisitInfo if name == "visit_info" else None)
    except (KeyError, IndexError, TypeError, ValueError, PersistenceError) as err:
        raise FitsError(ffile.path, f"cannot rebuild the {name} from extension {extname} ({err})") from err


def _metadata(ffile: _FitsFile) -> fits.Header:
    # Filter the raw 80-character cards, then parse once (appending parsed cards one by one
    # costs astropy a verification per card).
    raw = ffile.hdus[0].raw.decode("ascii")
    skip = _STRUCTURAL | _RESERVED | {"END"}
    kept = (raw[i : i + 80] for i in range(0, len(raw) - 79, 80))
    return fits.Header.fromstring("".join(c for c in kept if c[:8].rstrip() not in skip and c.strip()))


def read_exposure(path: str | PathLike[str], bbox: Box2I | None = None) -> Exposure:
    """Read an `Exposure` written by `write_exposure`, or the region ``bbox`` of it.

    Image and MaskedImage files are accepted too (a missing mask is all zero, a missing
    variance zero, and components absent).

    Parameters
    ----------
    path : `str` or path-like
        The file.
    bbox : `~skystack.geom.Box2I`, optional
        Region to read, in parent coordinates; only its pixels are read from the file.

    Returns
    -------
    exposure : `Exposure`
        New in-memory pixels (native byte order) and the stored components.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    FitsError
        If the file is not a complete skystack FITS file or a part of it is invalid.
    ValueError
        If ``bbox`` is not inside the file's bbox.
    """
    with _open(path) as ffile:
        masked_image = _read_masked_image(ffile, bbox)
        components = {name: _read_json_component(ffile, name) for name in _COMPONENT_EXT}
        return Exposure(masked_image, wcs=_read_wcs(ffile), metadata=_metadata(ffile), **components)


def read_masked_image(path: str | PathLike[str], bbox: Box2I | None = None) -> MaskedImage:
    """Read the `MaskedImage` of a MaskedImage or Exposure file (errors as `read_exposure`)."""
    with _open(path) as ffile:
        if ffile.kind == "IMAGE":
            raise FitsError(path, "holds an IMAGE, not a MaskedImage or Exposure; use read_image")
        return _read_masked_image(ffile, bbox)


def read_image(path: str | PathLike[str], bbox: Box2I | None = None) -> Image:
    """Read the `Image` (IMAGE HDU) of any skystack image file (errors as `read_exposure`)."""
    with _open(path) as ffile:
        return _read_image(ffile, bbox)


def read_exposure_component(path: str | PathLike[str], component: str) -> Any:
    """Read one component of a skystack image file without reading any pixels.

    Parameters
    ----------
    path : `str` or path-like
        The file.
    component : `str`
        One of `COMPONENT_NAMES`: ``"wcs"``, ``"psf"``, ``"photo_calib"``, ``"ap_corr_map"``,
        ``"visit_info"`` (each None if the file has none), ``"bbox"`` (`~skystack.geom.Box2I`),
        ``"metadata"`` (`astropy.io.fits.Header`) or ``"mask_plane_dict"`` (`dict`, empty for an
        Image file).

    Raises
    ------
    ValueError
        If ``component`` is not one of `COMPONENT_NAMES`.
    FitsError
        As for `read_exposure`.
    """
    if component not in COMPONENT_NAMES:
        choices = ", ".join(COMPONENT_NAMES)
        raise ValueError(f"Unknown exposure component {component!r}; choose one of {choices}")
    with _open(path) as ffile:
        if component == "wcs":
            return _read_wcs(ffile)
        if component == "bbox":
            return _file_bbox(ffile)
        if component == "metadata":
            return _metadata(ffile)
        if component == "mask_plane_dict":
            return {} if ffile.kind == "IMAGE" else _plane_dict(ffile)
        return _read_json_component(ffile, component)
