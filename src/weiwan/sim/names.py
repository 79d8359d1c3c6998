"""Personal identifiers: Chinese names, phone numbers (MSISDN) and resident ID numbers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# common surnames, Guangxi-flavoured (韦 覃 蒙 莫 农 are frequent there), with rough weights
_SURNAMES = "黄李陈韦梁刘莫覃杨张王林何周蒙廖罗谢吴赵邓唐卢潘苏蓝农陆黎石冯钟余许朱曾胡郭宋邱谭骆施"
_SURNAME_WEIGHTS = np.array(
    [
        *[9, 8, 7, 7, 5, 5, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2],
        *[2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ],
    dtype=np.float64,
)
_MALE_CHARS = "伟强军磊洋勇杰涛斌超明辉鹏华飞刚平建国志文俊宇浩然海龙峰波锋健凯"
_FEMALE_CHARS = "芳娜敏静丽艳秀娟英华玲萍红霞燕梅琳雪婷慧颖倩洁佳琪欣怡月桂兰凤"
_NEUTRAL_CHARS = "小子晓春秋天嘉思雨宁安"

#: China Mobile number segments (号段)
_MSISDN_PREFIXES = np.array(
    [
        134,
        135,
        136,
        137,
        138,
        139,
        147,
        150,
        151,
        152,
        157,
        158,
        159,
        172,
        178,
        182,
        183,
        184,
        187,
        188,
        195,
        197,
        198,
    ],
    dtype=np.int64,
)
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = pa.array(list("10X98765432"))


def _chars(text: str) -> pa.Array:
    return pa.array(list(text))


def chinese_names(rng: np.random.Generator, female: np.ndarray) -> pa.Array:
    """Surname + one or two given-name characters, the characters leaning by gender."""
    n = len(female)
    w = _SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum()
    surname = _chars(_SURNAMES).take(pa.array(rng.choice(len(_SURNAMES), n, p=w)))
    pool = _MALE_CHARS + _FEMALE_CHARS + _NEUTRAL_CHARS
    nm, nf, nn = len(_MALE_CHARS), len(_FEMALE_CHARS), len(_NEUTRAL_CHARS)
    own = np.where(female, nm + rng.integers(0, nf, n), rng.integers(0, nm, n))
    first = np.where(rng.random(n) < 0.2, nm + nf + rng.integers(0, nn, n), own)
    second = np.where(female, nm + rng.integers(0, nf, n), rng.integers(0, nm, n))
    chars = _chars(pool + "")
    g1 = chars.take(pa.array(first))
    g2 = chars.take(pa.array(second))
    two = rng.random(n) < 0.7
    g2 = pc.if_else(pa.array(two), g2, pa.scalar(""))
    return pc.binary_join_element_wise(surname, g1, g2, "")


def msisdns(global_index: np.ndarray, seed: int) -> pa.Array:
    """Unique 11-digit numbers: a seed-keyed bijection of the global subscriber index."""
    k = len(_MSISDN_PREFIXES)
    shift = (seed * 7919) % k
    prefix = _MSISDN_PREFIXES[(global_index + shift) % k]
    block = global_index // k
    mult, offset = 48_271_013, (seed * 2_654_435_761) % 100_000_000  # mult coprime to 10^8
    suffix = (block * mult + offset) % 100_000_000
    number = prefix * 100_000_000 + suffix
    return pc.cast(pa.array(number), pa.string())


def id_numbers(
    rng: np.random.Generator, area: np.ndarray, birth_days: np.ndarray, female: np.ndarray
) -> pa.Array:
    """18-digit resident ID numbers (GB 11643): area, birth date, sequence, ISO 7064 check."""
    d = birth_days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    mo = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    seq = rng.integers(0, 50, len(area)) * 20 + rng.integers(0, 10, len(area)) // 2 * 2
    seq = seq + np.where(female, 0, 1)  # odd = male, even = female
    body = ((area * 10_000 + y) * 100 + mo) * 100 + dom
    body = body * 1000 + seq  # 17 digits
    digits = np.empty((len(area), 17), dtype=np.int64)
    rest = body.copy()
    for i in range(16, -1, -1):
        digits[:, i] = rest % 10
        rest //= 10
    check = _ID_CHECK.take(pa.array((digits @ _ID_WEIGHTS) % 11))
    return pc.binary_join_element_wise(pc.cast(pa.array(body), pa.string()), check, "")


def account_managers(seed: int, count: int = 36) -> tuple[str, ...]:
    """A stable roster of named account managers (客户经理) for the high-value tier."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED_0001]))
    female = rng.random(count) < 0.6
    names = chinese_names(rng, female).to_pylist()
    seen: dict[str, None] = {}
    for i, name in enumerate(names):
        seen[name if name not in seen else f"{name}{i}"] = None
    return tuple(seen)
