"""Network and identity material for simulated accounts: ASNs with their address ranges,
IPs, user agents, TLS fingerprints, emails and payment fingerprints.

ASN numbers and names of large networks are the real public ones; the address prefixes
are illustrative (drawn from each network's style, not a registry). Proxy/hosting ranges
are small networks, as the reports describe."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Asn:
    number: int
    org: str
    kind: str  # residential | mobile | cloud | proxy | academic | corporate
    country: str
    prefixes: tuple[str, ...]  # "a.b" /16 prefixes

    def ip(self, rng: np.random.Generator) -> str:
        prefix = self.prefixes[int(rng.integers(len(self.prefixes)))]
        return f"{prefix}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"


ASNS: tuple[Asn, ...] = (
    # residential
    Asn(7922, "COMCAST-7922", "residential", "US", ("73.15", "98.207", "24.60")),
    Asn(701, "UUNET (Verizon)", "residential", "US", ("71.172", "108.28")),
    Asn(7018, "ATT-INTERNET4", "residential", "US", ("99.44", "76.201")),
    Asn(3320, "DTAG Deutsche Telekom", "residential", "DE", ("79.192", "91.45")),
    Asn(5089, "Virgin Media", "residential", "GB", ("82.20", "86.3")),
    Asn(3215, "Orange France", "residential", "FR", ("90.12", "86.245")),
    Asn(4134, "CHINANET-BACKBONE", "residential", "CN", ("116.22", "180.160", "123.112")),
    Asn(4837, "CHINA UNICOM", "residential", "CN", ("123.118", "221.216")),
    Asn(9829, "BSNL India", "residential", "IN", ("117.200", "59.92")),
    Asn(28573, "Claro NXT", "residential", "BR", ("177.32", "187.20")),
    Asn(2516, "KDDI", "residential", "JP", ("106.128", "111.86")),
    Asn(4766, "Korea Telecom", "residential", "KR", ("121.128", "175.192")),
    Asn(7552, "Viettel", "residential", "VN", ("27.72", "171.224")),
    Asn(12389, "Rostelecom", "residential", "RU", ("95.24", "178.46")),
    Asn(1221, "Telstra", "residential", "AU", ("101.160", "120.16")),
    Asn(812, "Rogers", "residential", "CA", ("99.230", "174.112")),
    Asn(36873, "Airtel Nigeria", "residential", "NG", ("105.112", "197.210")),
    Asn(4760, "HKT", "residential", "HK", ("112.118", "218.102")),
    Asn(9506, "Singtel", "residential", "SG", ("116.14", "183.90")),
    Asn(3352, "TELEFONICA_DE_ESPANA", "residential", "ES", ("83.32", "88.6")),
    Asn(3269, "Telecom Italia", "residential", "IT", ("79.20", "87.5")),
    Asn(9121, "Turk Telekom", "residential", "TR", ("78.160", "88.224")),
    Asn(25019, "Saudi Telecom Company", "residential", "SA", ("94.96", "212.26")),
    Asn(8452, "TE Data", "residential", "EG", ("41.32", "156.196")),
    Asn(7713, "PT Telekomunikasi Indonesia", "residential", "ID", ("36.64", "114.120")),
    Asn(24389, "Grameenphone", "residential", "BD", ("37.111", "103.25")),
    Asn(33771, "Safaricom", "residential", "KE", ("105.160", "41.90")),
    Asn(7470, "TRUE INTERNET", "residential", "TH", ("49.228", "171.96")),
    Asn(8151, "Uninet (Telmex)", "residential", "MX", ("187.188", "189.203")),
    Asn(5617, "Orange Polska", "residential", "PL", ("83.6", "89.78")),
    # mobile
    Asn(21928, "T-MOBILE-AS21928", "mobile", "US", ("172.56", "172.58")),
    Asn(3209, "Vodafone GmbH", "mobile", "DE", ("109.40", "188.110")),
    Asn(55836, "Reliance Jio", "mobile", "IN", ("49.36", "157.32")),
    Asn(9808, "China Mobile", "mobile", "CN", ("111.0", "117.136")),
    # cloud
    Asn(16509, "AMAZON-02", "cloud", "US", ("3.80", "18.204", "52.14", "54.210")),
    Asn(14618, "AMAZON-AES", "cloud", "US", ("34.224", "44.192")),
    Asn(15169, "GOOGLE", "cloud", "US", ("35.184", "34.66")),
    Asn(396982, "GOOGLE-CLOUD-PLATFORM", "cloud", "US", ("34.118", "35.230")),
    Asn(8075, "MICROSOFT-CORP-MSN-AS-BLOCK", "cloud", "US", ("20.42", "40.112", "52.160")),
    Asn(14061, "DIGITALOCEAN-ASN", "cloud", "US", ("159.65", "167.99")),
    Asn(24940, "Hetzner Online GmbH", "cloud", "DE", ("88.198", "135.181")),
    Asn(16276, "OVH SAS", "cloud", "FR", ("51.68", "145.239")),
    Asn(45102, "Alibaba (US) Technology", "cloud", "SG", ("47.88", "8.219")),
    Asn(132203, "Tencent Building, Kejizhongyi Avenue", "cloud", "SG", ("43.134", "129.226")),
    Asn(20473, "AS-VULTR", "cloud", "US", ("45.76", "149.28")),
    # small proxy / bulletproof hosting ranges (strong evidence when shared)
    Asn(209588, "Flyservers S.A.", "proxy", "NL", ("185.234",)),
    Asn(212238, "Datacamp Limited", "proxy", "GB", ("89.187",)),
    Asn(49453, "Global Layer B.V.", "proxy", "NL", ("194.31",)),
    Asn(62240, "Clouvider", "proxy", "GB", ("45.134",)),
    Asn(398324, "Censys-ish Hosting", "proxy", "US", ("162.142",)),
    Asn(136258, "BrainStorm Network", "proxy", "HK", ("103.151",)),
    Asn(152194, "CTG Server Ltd", "proxy", "HK", ("156.241",)),
    Asn(40065, "Cnservers LLC", "proxy", "US", ("104.233",)),
    # academic / corporate
    Asn(3, "MIT-GATEWAYS", "academic", "US", ("18.9", "18.29")),
    Asn(32, "STANFORD", "academic", "US", ("171.64", "171.67")),
    Asn(786, "JANET (UK universities)", "academic", "GB", ("128.232", "131.111")),
    Asn(680, "DFN Verein (German universities)", "academic", "DE", ("141.20", "129.187")),
    Asn(4538, "CERNET", "academic", "CN", ("166.111", "202.112")),
    Asn(2907, "SINET Japan", "academic", "JP", ("133.11", "130.69")),
    Asn(766, "RedIRIS", "academic", "ES", ("130.206", "147.96")),
    Asn(
        137, "GARR Italian academic and research network", "academic", "IT", ("131.114", "193.205")
    ),
    Asn(1916, "Rede Nacional de Ensino e Pesquisa", "academic", "BR", ("143.107", "200.130")),
    Asn(1237, "KREONET", "academic", "KR", ("134.75", "150.183")),
    Asn(2200, "RENATER", "academic", "FR", ("193.48", "194.57")),
    Asn(17676, "SoftBank Corp", "corporate", "JP", ("126.0", "219.100")),
    Asn(6453, "TATA COMMUNICATIONS", "corporate", "IN", ("115.110",)),
)

BY_KIND: dict[str, tuple[Asn, ...]] = {}
for _a in ASNS:
    BY_KIND[_a.kind] = (*BY_KIND.get(_a.kind, ()), _a)

TZ_OFFSET = {  # hours from UTC (no DST, on purpose: simple and documented)
    "US": -6,
    "CA": -5,
    "BR": -3,
    "GB": 0,
    "FR": 1,
    "DE": 1,
    "NL": 1,
    "NG": 1,
    "RU": 3,
    "ES": 1,
    "IT": 1,
    "PL": 1,
    "EG": 2,
    "TR": 3,
    "SA": 3,
    "KE": 3,
    "BD": 6,
    "TH": 7,
    "ID": 7,
    "MX": -6,
    "IN": 5.5,
    "VN": 7,
    "CN": 8,
    "SG": 8,
    "HK": 8,
    "KR": 9,
    "JP": 9,
    "AU": 10,
}


def asn_in(rng: np.random.Generator, kind: str, country: str | None = None) -> Asn:
    pool = BY_KIND[kind]
    if country is not None:
        local = tuple(a for a in pool if a.country == country)
        if local and rng.random() < 0.85:
            pool = local
    return pool[int(rng.integers(len(pool)))]


SDK_AGENTS = (
    "OpenAI/Python 1.54.3",
    "OpenAI/Python 1.82.0",
    "OpenAI/JS 4.73.1",
    "anthropic-python/0.49.0",
    "anthropic-typescript/0.39.0",
    "python-httpx/0.27.2",
    "langchain-openai/0.3.9",
    "litellm/1.63.2",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.7.9",
)
BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
)
AGENT_CLIS = ("agent-cli/2.3.1 (node 20)", "codeassist/0.18.4", "cursor-agent/1.2", "aider/0.72.1")


def client_fp(seed_text: str) -> str:
    """A JA4-shaped fingerprint derived from a client stack name."""
    h = hashlib.sha256(seed_text.encode()).hexdigest()
    return f"t13d{int(h[:2], 16) % 20 + 10:02d}{int(h[2:4], 16) % 10 + 10}h2_{h[4:16]}_{h[16:28]}"


FIRST = (
    "james",
    "maria",
    "wei",
    "li",
    "anna",
    "david",
    "fatima",
    "juan",
    "yuki",
    "olga",
    "arjun",
    "chen",
    "sara",
    "ahmed",
    "lucas",
    "emma",
    "min",
    "ivan",
    "sofia",
    "noah",
    "priya",
    "hiro",
    "grace",
    "omar",
    "elena",
    "tom",
    "aisha",
    "jin",
    "paul",
    "nina",
)
LAST = (
    "smith",
    "garcia",
    "wang",
    "zhang",
    "mueller",
    "kim",
    "nguyen",
    "patel",
    "silva",
    "ivanov",
    "tanaka",
    "brown",
    "lee",
    "khan",
    "rossi",
    "chen",
    "martin",
    "park",
    "lopez",
    "sato",
)
FREEMAIL = (
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "qq.com",
    "163.com",
    "gmx.de",
    "naver.com",
    "hotmail.com",
)
DISPOSABLE = (
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "tempmail.dev",
    "sharklasers.com",
    "yopmail.com",
    "trashmail.io",
    "dropmail.me",
)


def person_email(rng: np.random.Generator, domain: str | None = None) -> str:
    first, last = FIRST[int(rng.integers(len(FIRST)))], LAST[int(rng.integers(len(LAST)))]
    style = int(rng.integers(4))
    local = (
        f"{first}.{last}",
        f"{first}{last[0]}{int(rng.integers(1, 99))}",
        f"{first[0]}{last}",
        f"{first}_{last}{int(rng.integers(1970, 2006))}",
    )[style]
    return f"{local}@{domain or FREEMAIL[int(rng.integers(len(FREEMAIL)))]}"


def payment_fp(rng: np.random.Generator) -> str:
    return "pm_" + "".join(f"{int(b):02x}" for b in rng.integers(0, 256, 8))
