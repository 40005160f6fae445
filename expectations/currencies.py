"""Active ISO 4217 currency codes that a receivable can be denominated in.

Embedded rather than looked up so validation is deterministic and offline. The list is ISO 4217
list one as amended up to 2025 (ANG replaced by XCG, SLL by SLE, ZWL by ZWG, VED alongside VES),
restricted to codes that circulate as money: fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI,
UYW), precious metals (XAU, XAG, XPD, XPT), bond-market units (XBA-XBD), the SDR and SUCRE units
(XDR, XSU, XUA) and the testing / no-currency codes (XTS, XXX) are left out on purpose: an
invoice in one of them is an export error, not a currency. Withdrawn codes (HRK, SLL, ANG, ...)
are rejected; a company with history in a withdrawn currency adds it here with a note.
"""

from __future__ import annotations

ISO_4217_CURRENCIES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF
    KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
    MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
    SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH
    UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()
)
