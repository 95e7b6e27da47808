"""The statement parsers: what each format yields, and every refusal's line and field."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from reconciliation.model import (
    AccountBalance,
    FileFormat,
    ParsedFile,
    Source,
    StatementError,
    StatementLine,
)
from reconciliation.statements import detect_format, parse_file
from reconciliation.statements.bai2_statement import parse_bai2, write_bai2, write_bai2_days
from reconciliation.statements.camt053 import parse_camt053, write_camt053
from reconciliation.statements.processor_csv import parse_processor_csv, write_processor_csv

SAMPLES = Path(__file__).resolve().parents[2] / "reconciliation" / "samples"
D = Decimal
HEX = "0123456789abcdef" * 2


def refused(parse: Callable[[str, bytes], ParsedFile], data: bytes) -> StatementError:
    with pytest.raises(StatementError) as info:
        parse("f", data)
    assert info.value.file == "f"
    return info.value


def edit(text: str, line: int, old: str, new: str) -> bytes:
    """The text with ``old`` replaced by ``new`` on one 1-based line (which must hold it)."""
    rows = text.split("\n")
    assert old in rows[line - 1], rows[line - 1]
    rows[line - 1] = rows[line - 1].replace(old, new, 1)
    return "\n".join(rows).encode()


# --- processor CSV ---------------------------------------------------------------------

def proc(line: int, ident: str, kind: str, amount: str, fee: str, currency: str = "USD",
         booked: date = date(2026, 3, 2), ref: str = "") -> StatementLine:
    return StatementLine(Source.PROCESSOR, "p.csv", line, ident, kind, D(amount), currency,
                         booked, date(2026, 3, 4), ref, D(fee), D(amount) - D(fee))


CSV_LINES = [
    proc(2, "txn_1", "charge", "500.00", "14.80", ref=f"pay_{HEX}_1"),
    proc(3, "txn_2", "refund", "-100.00", "0.00", ref=f"rf_{HEX}_1"),
    proc(4, "txn_3", "payout", "-385.20", "0.25", ref=f"wd_{HEX}_1"),
    proc(5, "txn_4", "payout_failure", "385.20", "0", ref=f"wd_{HEX}_1"),
    proc(6, "txn_5", "chargeback", "-500.00", "15.00", ref=f"pay_{HEX}_1"),
    proc(7, "txn_6", "fee", "-2.00", "0.00"),
    proc(8, "txn_7", "adjustment", "0.01", "0.00"),
    proc(9, "txn_8", "charge", "1.234", "0.010", currency="BHD", ref="pay_b_1"),
    proc(10, "txn_9", "charge", "1500", "45", currency="JPY", ref="pay_j_1"),
]

CSV = (
    "id,type,amount,fee,net,currency,created,available_on,reference\n"
    "txn_1,charge,500.00,14.80,485.20,usd,2026-03-02T09:14:00Z,2026-03-04,pay_a_1\n"
    "txn_2,refund,-100.00,0.00,-100.00,USD,2026-03-02T01:00:00+02:00,2026-03-04,rf_a_1\n"
    "txn_3,fee,-2.00,0.00,-2.00,usd,1772496000,2026-03-04,\n"
)


def test_processor_csv_round_trip_keeps_every_field_and_exact_decimals() -> None:
    data = write_processor_csv(CSV_LINES)
    parsed = parse_processor_csv("p.csv", data)
    assert parsed.format is FileFormat.PROCESSOR_CSV
    assert parsed.lines == tuple(CSV_LINES)
    assert [str(line.amount) for line in parsed.lines] == [
        "500.00", "-100.00", "-385.20", "385.20", "-500.00", "-2.00", "0.01", "1.234", "1500"]
    assert [str(line.net) for line in parsed.lines][:3] == ["485.20", "-100.00", "-385.45"]
    assert parsed.sha256 == hashlib.sha256(data).hexdigest()
    assert data.splitlines()[8] == b"txn_8,charge,1.234,0.010,1.224,bhd,2026-03-02T00:00:00Z," \
                                   b"2026-03-04,pay_b_1"
    assert write_processor_csv(parsed.lines) == data


def test_processor_created_is_read_as_its_utc_date_and_currency_upper_cased() -> None:
    lines = parse_processor_csv("p.csv", CSV.encode()).lines
    assert [(ln.line, ln.booked, ln.currency) for ln in lines] == [
        (2, date(2026, 3, 2), "USD"),
        (3, date(2026, 3, 1), "USD"),   # 01:00 at +02:00 is the day before in UTC
        (4, date(2026, 3, 3), "USD"),   # unix 1772496000 = 2026-03-03T00:00:00Z
    ]
    assert lines[2].reference == ""
    assert lines[2].fee == 0


@pytest.mark.parametrize(("old", "new", "field"), [
    ("500.00,14.80,485.20", "12.3x,14.80,485.20", "amount"),
    ("500.00,14.80,485.20", "1.005,14.80,485.20", "amount"),
    ("500.00,14.80,485.20", "NaN,14.80,485.20", "amount"),
    ("500.00,14.80,485.20", "1e3,14.80,485.20", "amount"),
    ("500.00,14.80,485.20", ",14.80,485.20", "amount"),
    ("500.00,14.80,485.20", "-500.00,14.80,-514.80", "amount"),
    ("500.00,14.80,485.20", "500.00,-1.00,501.00", "fee"),
    ("500.00,14.80,485.20", "500.00,14.80,485.21", "net"),
    ("500.00,14.80,485.20", "500.00,14.80", "columns"),
    ("pay_a_1", "pay_a_1,extra", "columns"),
    ("txn_1,", "txn_0,", "id"),
    ("txn_1,", ",", "id"),
    (",charge,", ",transfer,", "type"),
    (",usd,", ",usx,", "currency"),
    ("2026-03-02T09:14:00Z", "2026-03-02T09:14:00", "created"),
    ("2026-03-02T09:14:00Z", "yesterday", "created"),
    (",2026-03-04,pay_a_1", ",2026-02-30,pay_a_1", "available_on"),
    (",2026-03-04,pay_a_1", ",20260304,pay_a_1", "available_on"),
    (",pay_a_1", ",", "reference"),
])
def test_processor_csv_refusals_name_the_line_and_column(old: str, new: str, field: str) -> None:
    base = CSV.split("\n")
    text = "\n".join([base[0], base[1].replace("txn_1", "txn_0"), base[2], base[1], ""])
    error = refused(parse_processor_csv, edit(text, 4, old, new))
    assert (error.line, error.field) == (4, field), error


def test_processor_duplicate_id_names_the_second_line_and_the_first() -> None:
    data = (CSV + "txn_2,charge,5.00,0.00,5.00,usd,2026-03-02T09:14:00Z,2026-03-04,p\n").encode()
    error = refused(parse_processor_csv, data)
    assert (error.line, error.field) == (5, "id")
    assert "already appears on line 3" in error.message


@pytest.mark.parametrize(("header", "words"), [
    ("id,type,amount,fee,net,currency,created,available_on", "missing reference"),
    ("id,type,amount,fee,net,currency,created,available_on,reference,memo", "'memo'"),
    ("id,type,fee,amount,net,currency,created,available_on,reference", "out of order"),
])
def test_processor_header_must_be_exactly_the_columns(header: str, words: str) -> None:
    data = CSV.replace(CSV.split("\n")[0], header).encode()
    error = refused(parse_processor_csv, data)
    assert (error.line, error.field) == (1, "header")
    assert words in error.message


def test_processor_file_not_utf8_is_refused_at_the_line_of_the_bad_byte() -> None:
    data = CSV.encode().replace(b"rf_a_1", b"rf_\xe9_1")
    error = refused(parse_processor_csv, data)
    assert (error.line, error.field) == (3, "encoding")


def test_processor_line_numbers_are_physical_after_a_quoted_newline() -> None:
    text = CSV.replace(",2026-03-04,\n", ',2026-03-04,"monthly\nfee"\n') + \
        "txn_4,charge,5.00,0.00,5.00,usd,2026-03-02T09:14:00Z,2026-03-04,p\n"
    lines = parse_processor_csv("p.csv", text.encode()).lines
    assert [(ln.line, ln.reference) for ln in lines[2:]] == [(4, "monthly\nfee"), (6, "p")]
    error = refused(parse_processor_csv, text.replace("5.00,usd", "5.01,usd").encode())
    assert (error.line, error.field) == (6, "net")


# --- BAI2 -------------------------------------------------------------------------------

BAI2 = """01,ESCROWBANK,ESCROWLEDGER,260302,2359,1,,,2/
02,ESCROWLEDGER,ESCROWBANK,1,260302,2400,USD,2/
03,4100012345,USD,010,100000,,,015,150000,,/
16,195,60000,V,260303,,BR1,pay_a_1,
16,495,10000,0,BR2,wd_b_1,
49,320000,4/
98,320000,1,6/
99,320000,1,8/
"""


def bank(line: int, ident: str, amount: str, booked: date, value: date | None, ref: str,
         account: str, file: str, currency: str = "USD") -> StatementLine:
    kind = "debit" if D(amount) < 0 else "credit"
    return StatementLine(Source.BANK, file, line, ident, kind, D(amount), currency, booked,
                         value, ref, account=account)


def test_bai2_lines_balances_and_accounts() -> None:
    parsed = parse_bai2("t.bai2", BAI2.encode())
    day = date(2026, 3, 2)
    assert parsed.lines == (
        bank(4, "BR1", "600.00", day, date(2026, 3, 3), "pay_a_1", "4100012345", "t.bai2"),
        bank(5, "BR2", "-100.00", day, None, "wd_b_1", "4100012345", "t.bai2"),
    )
    assert parsed.balances == (AccountBalance("4100012345", "USD", day, D("1000.00"),
                                              D("1500.00")),)
    assert parsed.accounts == ("4100012345",)
    assert parsed.sha256 == hashlib.sha256(BAI2.encode()).hexdigest()


def test_bai2_round_trip_one_day_and_several() -> None:
    day = date(2026, 3, 2)
    lines = [bank(4, "BR1", "1234.56", day, day, "pay_a_1", "TRUST", "t.bai2"),
             bank(5, "BR2", "-34.50", day, None, "wd_b_1", "TRUST", "t.bai2")]
    parsed = parse_bai2("t.bai2", write_bai2("TRUST", "USD", day, D("-10.00"), lines))
    assert parsed.lines == tuple(lines)
    assert parsed.balances == (AccountBalance("TRUST", "USD", day, D("-10.00"), D("1190.06")),)

    jpy = [bank(10, "JP1", "1500", day, None, "pay_j_1", "YEN", "m.bai2", "JPY")]
    data = write_bai2_days([("TRUST", "USD", day, D("-10.00"), lines),
                            ("YEN", "JPY", date(2026, 3, 3), D("0"), jpy)])
    parsed = parse_bai2("m.bai2", data)
    assert [(ln.line, ln.amount, ln.booked) for ln in parsed.lines] == [
        (4, D("1234.56"), day), (5, D("-34.50"), day), (10, D("1500"), date(2026, 3, 3))]
    assert str(parsed.lines[2].amount) == "1500"
    assert parsed.balances[1] == AccountBalance("YEN", "JPY", date(2026, 3, 3), D("0"),
                                                D("1500"))
    assert parsed.accounts == ("TRUST", "YEN")


def test_bai2_continuations_default_currency_text_reference_and_blank_bank_reference() -> None:
    text = """01,ESCROWBANK,ESCROWLEDGER,260302,2359,1,,,2/
02,ESCROWLEDGER,ESCROWBANK,1,260302,2400,,2/
03,4100012345,,010,100000,,/
88,015,150000,,/
16,195,60000,Z,BR1,,PAYMENT FOR
88,pay_a_1
16,495,2500,0,,wd_b_1/
16,890,,Z,,,NON MONETARY NOTICE
49,312500,7/
98,312500,1,9/
99,312500,1,11/
"""
    parsed = parse_bai2("c.bai2", text.encode())
    day = date(2026, 3, 2)
    assert parsed.lines == (
        bank(5, "BR1", "600.00", day, None, "PAYMENT FOR pay_a_1", "4100012345", "c.bai2"),
        bank(7, "c.bai2:7", "-25.00", day, None, "wd_b_1", "4100012345", "c.bai2"),
    )
    assert parsed.balances[0].closing == D("1500.00")


@pytest.mark.parametrize(("line", "old", "new", "field"), [
    (4, "60000,V", "600.00,V", "amount"),
    (4, "60000,V", "60_000,V", "amount"),
    (4, "60000,V", ",V", "amount"),
    (4, "16,195", "16,999", "type_code"),
    (4, "16,195", "16,010", "type_code"),
    (4, ",V,", ",X,", "funds_type"),
    (3, "USD,010", "XYZ,010", "currency"),
    (3, "010,100000", "010,1000.00", "amount"),
    (2, "260302,2400", "260230,2400", "as_of_date"),
    (1, ",2/", ",3/", "version_number"),
    (6, "49,320000", "49,320001", "account_control_total"),
    (6, ",4/", ",5/", "number_of_records"),
    (7, "98,320000", "98,320001", "group_control_total"),
    (7, ",1,6/", ",2,6/", "number_of_accounts"),
    (7, ",6/", ",7/", "number_of_records"),
    (8, "99,320000", "99,320001", "file_control_total"),
    (8, ",1,8/", ",2,8/", "number_of_groups"),
    (8, ",8/", ",9/", "number_of_records"),
    (5, "BR2", "BR1", "bank_reference"),
    (5, "16,", "77,", "record"),
    (3, "03,", "16,", "record"),
])
def test_bai2_refusals_name_the_line_and_field(line: int, old: str, new: str,
                                               field: str) -> None:
    error = refused(parse_bai2, edit(BAI2, line, old, new))
    assert (error.line, error.field) == (line, field), error


@pytest.mark.parametrize(("keep", "missing"), [(7, "99 file trailer"), (6, "98 group trailer"),
                                               (5, "49 account trailer")])
def test_a_truncated_bai2_is_refused_at_its_last_line(keep: int, missing: str) -> None:
    data = "\n".join(BAI2.split("\n")[:keep]).encode()
    error = refused(parse_bai2, data)
    assert (error.line, error.field) == (keep, "record")
    assert missing in error.message


def test_bai2_records_after_the_file_trailer_are_refused() -> None:
    error = refused(parse_bai2, (BAI2 + "16,195,1,Z,BR9,x,\n").encode())
    assert (error.line, error.field) == (9, "record")


# --- camt.053 ---------------------------------------------------------------------------

CAMT02 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-04T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>S1</Id>
      <Acct><Id><Othr><Id>OP-1</Id></Othr></Id></Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">100.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>
        <Dt><Dt>2026-03-04</Dt></Dt>
      </Bal>
      <Bal>
        <Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">20.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><DtTm>2026-03-04T23:59:59</DtTm></Dt>
      </Bal>
      <Ntry>
        <NtryRef>E1</NtryRef>
        <Amt Ccy="EUR">120.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><DtTm>2026-03-04T10:00:00+01:00</DtTm></BookgDt>
        <ValDt><Dt>2026-03-05</Dt></ValDt>
        <NtryDtls><TxDtls><Refs><EndToEndId>pay_x_1</EndToEndId></Refs></TxDtls></NtryDtls>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""


def test_camt053_001_02_with_other_id_and_currency_from_the_amounts() -> None:
    parsed = parse_camt053("o.xml", CAMT02.encode())
    assert parsed.lines == (StatementLine(
        Source.BANK, "o.xml", 18, "E1", "credit", D("120.00"), "EUR", date(2026, 3, 4),
        date(2026, 3, 5), "pay_x_1", account="OP-1"),)
    assert parsed.balances == (AccountBalance("OP-1", "EUR", date(2026, 3, 4), D("-100.00"),
                                              D("20.00")),)
    assert parsed.accounts == ("OP-1",)


def test_camt053_proprietary_balance_types_are_not_read() -> None:
    data = edit(CAMT02, 9, "<Cd>OPBD</Cd>", "<Prtry>OPAV</Prtry>")
    balances = parse_camt053("o.xml", data).balances
    assert balances == (AccountBalance("OP-1", "EUR", date(2026, 3, 4), None, D("20.00")),)


def test_camt053_round_trip_several_statements() -> None:
    day, iban = date(2026, 3, 2), "GB33BUKB20201555555555"
    first = [bank(9, "AS1", "1234.56", day, day, "pay_x & <y>", iban, "o.xml"),
             bank(10, "AS2", "-34.50", day, None, "", iban, "o.xml")]
    second = [bank(16, "AS3", "0.01", date(2026, 3, 3), None, "sweep", "99887766", "o.xml")]
    data = write_camt053([(iban, "USD", day, D("-10.00"), first),
                          ("99887766", "USD", date(2026, 3, 3), D("5"), second)])
    parsed = parse_camt053("o.xml", data)
    assert parsed.lines == (*first, *second)
    assert parsed.balances == (
        AccountBalance(iban, "USD", day, D("-10.00"), D("1190.06")),
        AccountBalance("99887766", "USD", date(2026, 3, 3), D("5.00"), D("5.01")))
    assert b"<IBAN>GB33BUKB20201555555555</IBAN>" in data
    assert parsed.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("line", "old", "new", "field"), [
    (20, "120.00", "12.3x", "Ntry/Amt"),
    (20, "120.00", "1.005", "Ntry/Amt"),
    (20, "120.00", "-120.00", "Ntry/Amt"),
    (20, 'Ccy="EUR"', 'Ccy="USD"', "Ntry/Amt/@Ccy"),
    (21, "CRDT", "CRED", "Ntry/CdtDbtInd"),
    (23, "2026-03-04T10:00:00+01:00", "4 March", "Ntry/BookgDt"),
    (24, "2026-03-05", "2026-02-30", "Ntry/ValDt"),
    (10, "DBIT", "DEBIT", "Bal/CdtDbtInd"),
    (11, "2026-03-04", "", "Bal/Dt"),
    (7, "<Id><Othr><Id>OP-1</Id></Othr></Id>", "", "Acct/Id"),
    (2, "camt.053.001.02", "camt.052.001.02", "xml"),
    (21, "</CdtDbtInd>", "</CdtDbt>", "xml"),
])
def test_camt053_refusals_name_the_line_and_element(line: int, old: str, new: str,
                                                    field: str) -> None:
    error = refused(parse_camt053, edit(CAMT02, line, old, new))
    assert (error.line, error.field) == (line, field), error


@pytest.mark.parametrize(("line", "old", "parent", "field"), [
    (23, "<BookgDt><DtTm>2026-03-04T10:00:00+01:00</DtTm></BookgDt>", 18, "Ntry/BookgDt"),
    (20, '<Amt Ccy="EUR">120.00</Amt>', 18, "Ntry/Amt"),
    (21, "<CdtDbtInd>CRDT</CdtDbtInd>", 18, "Ntry/CdtDbtInd"),
    (9, "<Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>", 8, "Bal/Tp"),
    (7, "<Acct><Id><Othr><Id>OP-1</Id></Othr></Id></Acct>", 5, "Stmt/Acct"),
])
def test_camt053_a_missing_element_is_named_at_its_parent(line: int, old: str, parent: int,
                                                           field: str) -> None:
    error = refused(parse_camt053, edit(CAMT02, line, old, ""))
    assert (error.line, error.field) == (parent, field), error


BOMB = (  # the billion laughs: nine levels of ten, a 3 GB string if expanded
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 "lol">\n'
    + b"".join(f' <!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">\n'.encode() for n in range(1, 10))
    + b"]>\n<Document><BkToCstmrStmt><Stmt><Id>&lol9;</Id></Stmt></BkToCstmrStmt></Document>\n"
)
XXE = b"""<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document><BkToCstmrStmt><Stmt><Id>&xxe;</Id></Stmt></BkToCstmrStmt></Document>
"""
DTD = b"""<?xml version="1.0"?>

<!DOCTYPE Document SYSTEM "http://bank.example/camt.053.dtd">
<Document><BkToCstmrStmt/></Document>
"""


@pytest.mark.parametrize(("data", "line"), [(BOMB, 2), (XXE, 1), (DTD, 3)])
def test_xml_bombs_external_entities_and_dtds_are_refused(data: bytes, line: int) -> None:
    for parse in (parse_camt053, parse_file):
        error = refused(parse, data)
        assert (error.line, error.field) == (line, "xml"), error
        assert "DTDs and entities are not allowed" in error.message


def test_an_undeclared_entity_is_not_well_formed() -> None:
    error = refused(parse_camt053, b"<Document>\n<BkToCstmrStmt>&xxe;</BkToCstmrStmt></Document>")
    assert (error.line, error.field) == (2, "xml")
    assert "undefined entity" in error.message


# --- detection and the samples -----------------------------------------------------------

def test_parse_file_detects_each_format_and_refuses_the_rest() -> None:
    csv_data, bai2_data = b"\xef\xbb\xbf" + CSV.encode(), BAI2.encode()
    assert detect_format(csv_data) is FileFormat.PROCESSOR_CSV
    assert parse_file("p.csv", csv_data).format is FileFormat.PROCESSOR_CSV
    assert parse_file("t.bai2", bai2_data).format is FileFormat.BAI2
    undeclared = "\n  " + CAMT02.split("\n", 1)[1]  # no XML declaration, leading blanks
    assert parse_file("o.xml", undeclared.encode()).format is FileFormat.CAMT053
    for junk in (b"", b"date,amount\n", b"<html><body/></html>", b"02,x/"):
        error = refused(parse_file, junk)
        assert (error.line, error.field) == (1, "format")


def test_the_samples_parse_and_agree_with_each_other() -> None:
    files = {p.name: parse_file(p.name, p.read_bytes()) for p in sorted(SAMPLES.iterdir())}
    processor = files["processor-2026-03.csv"]
    trust = files["trust-2026-03.bai2"]
    operating = files["operating-2026-03.camt053.xml"]
    assert (len(processor.lines), len(trust.lines), len(operating.lines)) == (11, 4, 2)
    assert {ln.kind for ln in processor.lines} == {
        "charge", "refund", "payout", "payout_failure", "chargeback", "fee"}
    for parsed in files.values():
        data = (SAMPLES / parsed.name).read_bytes()
        assert parsed.sha256 == hashlib.sha256(data).hexdigest()

    net_by_day: dict[date, Decimal] = defaultdict(Decimal)
    for ln in processor.lines:
        assert ln.value_date is not None
        assert ln.net is not None
        net_by_day[ln.value_date] += ln.net
    settlements = {ln.booked: ln.amount for ln in trust.lines if ln.reference.startswith("settle_")}
    assert settlements == {date(2026, 3, 2): D("-300.00"), date(2026, 3, 3): D("-590.20"),
                           date(2026, 3, 4): D("1583.30")}
    assert all(net_by_day[day] == amount for day, amount in settlements.items())
    sweep_out = [ln for ln in trust.lines if ln.reference == "sweep_2026-03-04"]
    sweep_in = [ln for ln in operating.lines if ln.reference == "sweep_2026-03-04"]
    assert [ln.amount for ln in sweep_out] == [D("-150.00")]
    assert [ln.amount for ln in sweep_in] == [D("150.00")]
    for parsed in (trust, operating):
        closings = [b.closing for b in parsed.balances]
        assert [b.opening for b in parsed.balances][1:] == closings[:-1]
    assert trust.balances[-1].closing == D("48753.10")
