"""Generate the synthetic FHIR R4 example bundles in this folder: python generate.py [DIR]."""
import json
import sys
from pathlib import Path
from typing import Any

Resource = dict[str, Any]

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
ICD = "http://hl7.org/fhir/sid/icd-10"
ICD_NO = "urn:oid:2.16.578.1.12.4.1.1.7110"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
SYNTH = {"tag": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                  "code": "HTEST", "display": "test health data"}]}


def patient(pid: str, birth: str, gender: str) -> Resource:
    return {"resourceType": "Patient", "id": pid, "meta": SYNTH,
            "name": [{"text": "Syntetisk Testpasient"}], "gender": gender, "birthDate": birth}


def encounter(eid: str, pid: str, cls: str, status: str, start: str, end: str | None = None,
              org: tuple[str, str] | None = None, loc: tuple[str, str] | None = None,
              stype: str | None = None) -> Resource:
    r: Resource = {"resourceType": "Encounter", "id": eid, "status": status,
         "class": {"system": ACT, "code": cls}, "subject": {"reference": f"Patient/{pid}"},
         "period": {"start": start, **({"end": end} if end else {})}}
    if org:
        r["serviceProvider"] = {"reference": f"Organization/{org[0]}", "display": org[1]}
    if org and not loc:  # the ward is the encounter's Location (the unit counted)
        loc = (f"{org[0]}-post", org[1])
    if loc:
        r["location"] = [{"location": {"reference": f"Location/{loc[0]}", "display": loc[1]}}]
    if stype:
        r["serviceType"] = {"text": stype}
    return r


def condition(cid: str, pid: str, code: str, display: str, onset: str, system: str = ICD,
              clinical: str = "active") -> Resource:
    return {"resourceType": "Condition", "id": cid,
            "clinicalStatus": {"coding": [{"system": CLIN, "code": clinical}]},
            "verificationStatus": {"coding": [{"system": VER, "code": "confirmed"}]},
            "code": {"coding": [{"system": system, "code": code, "display": display}]},
            "subject": {"reference": f"Patient/{pid}"}, "onsetDateTime": onset}


def episode(eid: str, pid: str, status: str, start: str, end: str | None = None) -> Resource:
    return {"resourceType": "EpisodeOfCare", "id": eid, "status": status,
            "patient": {"reference": f"Patient/{pid}"},
            "period": {"start": start, **({"end": end} if end else {})}}


ROLE = "urn:koordrules:kodeverk:koordinatorrolle"
ROLE_CODES = {"Sykepleierfaglig koordinator": "koordinator-shtj",
              "Kommunal koordinator": "koordinator-kommune",
              "Forløpskoordinator": "forlopskoordinator"}


def role(text: str) -> Resource:
    """A CareTeam role: coded in the local role list when it is a coordinator role."""
    code = ROLE_CODES.get(text, "annen-rolle")
    return {"text": text, "coding": [{"system": ROLE, "code": code}]}


def careteam(tid: str, pid: str, roles: list[str]) -> Resource:
    return {"resourceType": "CareTeam", "id": tid, "status": "active",
            "subject": {"reference": f"Patient/{pid}"},
            "participant": [{"role": [role(r)],
                             "member": {"reference": f"Practitioner/{tid}-{i}"}}
                            for i, r in enumerate(roles)]}


def referral(sid: str, pid: str, status: str, authored: str) -> Resource:
    return {"resourceType": "ServiceRequest", "id": sid, "status": status, "intent": "order",
            "subject": {"reference": f"Patient/{pid}"}, "authoredOn": authored,
            "code": {"text": "Henvisning"}}


def bundle(bid: str, resources: list[Resource]) -> Resource:
    return {"resourceType": "Bundle", "id": bid, "type": "collection",
            "meta": SYNTH,
            "entry": [{"fullUrl": f"urn:uuid:{bid}-{i:04d}", "resource": r}
                      for i, r in enumerate(resources)]}


def write(name: str, data: Any) -> None:
    (OUT / name).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n",
                            encoding="utf-8")


# Ola: ALS diagnosed this summer, long planned course, four units, no coordinator yet.
p = "syn-ola"
write("ola.bundle.json", bundle("syn-ola", [
    patient(p, "1957-03-02", "male"),
    condition("c1", p, "G12.2", "Motornevronsykdom (ALS)", "2024-07-10"),
    condition("c2", p, "I10", "Essensiell hypertensjon", "2015-05-01"),
    episode("eoc1", p, "active", "2024-07-10", "2026-07-01"),
    encounter("e1", p, "IMP", "finished", "2024-07-08T09:00:00+02:00", "2024-07-14T12:00:00+02:00",
              org=("nevro", "Nevrologisk avdeling")),
    encounter("e2", p, "IMP", "finished", "2024-08-01", "2024-08-05",
              org=("med", "Medisinsk avdeling")),
    encounter("e3", p, "AMB", "finished", "2024-09-10", "2024-09-10",
              org=("rehab", "Avdeling for rehabilitering")),
    encounter("e4", p, "AMB", "finished", "2024-10-20", "2024-10-20",
              loc=("lunge-pol", "Lungepoliklinikken")),
    encounter("e5", p, "AMB", "finished", "2024-03-01", "2024-03-01",
              org=("orto", "Ortopedisk avdeling")),
    encounter("e6", p, "AMB", "planned", "2024-12-01", org=("ern", "Ernæringspoliklinikken")),
    referral("sr1", p, "active", "2024-10-01"),
    referral("sr2", p, "completed", "2024-06-01"),
    careteam("ct1", p, ["Kontaktlege", "Kommunal koordinator"]),
]))

# Kari: 17 years old, chronic kidney disease stage 4 since 2022, has a nurse coordinator.
p = "syn-kari"
write("kari.bundle.json", bundle("syn-kari", [
    patient(p, "2007-06-20", "female"),
    condition("c1", p, "N184", "Kronisk nyresykdom, stadium 4", "2022-01-15", system=ICD_NO),
    episode("eoc1", p, "active", "2022-01-15"),
    encounter("e1", p, "AMB", "finished", "2024-10-01", "2024-10-01",
              org=("buk-nefro", "Barne- og ungdomsklinikken, nefrologi")),
    encounter("e2", p, "IMP", "finished", "2024-06-03", "2024-06-07",
              org=("buk-nefro", "Barne- og ungdomsklinikken, nefrologi")),
    careteam("ct1", p, ["Behandlingsansvarlig lege", "Sykepleierfaglig koordinator"]),
]))

# Per: asthma (resolved), one outpatient visit; no episode of care, no care team.
p = "syn-per"
write("per.bundle.json", bundle("syn-per", [
    patient(p, "1979-11-30", "male"),
    condition("c1", p, "J45", "Astma", "2010-04-01", clinical="resolved"),
    encounter("e1", p, "AMB", "finished", "2024-09-02", "2024-09-02",
              org=("lunge", "Lungeavdelingen")),
]))

# Malformed: broken and missing resources; the mapping must report them and carry on.
p = "syn-broken"
broken = bundle("syn-broken", [
    patient(p, "1950-01-01", "female"),
    {"resourceType": "Encounter", "id": "e1", "class": {"system": ACT, "code": "IMP"},
     "subject": {"reference": f"Patient/{p}"}, "period": {"start": "2024-09-01"}},
    condition("c1", p, "G35", "Multippel sklerose", "not-a-date"),
    careteam("ct1", p, ["Forløpskoordinator"]),
    {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}},
])
broken["entry"].insert(3, {"fullUrl": "urn:uuid:missing"})
broken["entry"].insert(4, {"resource": {"id": "no-type"}})
write("broken.bundle.json", broken)

# Astrid (Helse Førde pilot / neurology ward): 81, Parkinson's disease, many contacts.
p = "syn-astrid"
write("pilot-astrid.bundle.json", bundle("syn-astrid", [
    patient(p, "1943-04-12", "female"),
    condition("c1", p, "G20", "Parkinsons sykdom", "2016-09-01"),
    condition("c2", p, "I48", "Atrieflimmer", "2020-02-01"),
    encounter("e1", p, "IMP", "finished", "2024-02-03", "2024-02-10",
              org=("nevro", "Nevrologisk sengepost")),
    encounter("e2", p, "IMP", "finished", "2024-03-01", "2024-03-04",
              org=("med", "Medisinsk sengepost")),
    encounter("e3", p, "IMP", "finished", "2024-09-20", "2024-09-25",
              org=("nevro", "Nevrologisk sengepost")),
    encounter("e4", p, "AMB", "finished", "2024-06-11", "2024-06-11",
              org=("nevro-pol", "Nevrologisk poliklinikk")),
    encounter("e5", p, "AMB", "finished", "2024-10-02", "2024-10-02",
              org=("fysio", "Fysioterapi")),
    encounter("e6", p, "AMB", "cancelled", "2024-10-20", org=("oye", "Øyepoliklinikken")),
    encounter("e7", p, "AMB", "finished", "2023-08-01", "2023-08-01",
              org=("nevro-pol", "Nevrologisk poliklinikk")),
    careteam("ct1", p, ["Fastlege", "Hjemmesykepleie"]),
]))

# Nils (BUK nephrology): 9 years old, chronic kidney disease stage 5, no coordinator yet.
p = "syn-nils"
write("buk-nils.bundle.json", bundle("syn-nils", [
    patient(p, "2015-02-14", "male"),
    condition("c1", p, "N18.4", "Kronisk nyresykdom, stadium 4", "2021-03-01",
              clinical="inactive"),
    condition("c2", p, "N18.5", "Kronisk nyresykdom, stadium 5", "2024-05-02"),
    episode("eoc1", p, "active", "2021-03-01", "2027-03-01"),
    encounter("e1", p, "AMB", "finished", "2024-09-03", "2024-09-03",
              org=("buk-nefro", "BUK, seksjon for nefrologi")),
    encounter("e2", p, "AMB", "finished", "2024-10-15", "2024-10-15",
              org=("buk-ernaering", "BUK, ernæringspoliklinikk")),
    encounter("e3", p, "IMP", "finished", "2024-08-01", "2024-08-06",
              org=("buk-med", "BUK, medisinsk sengepost")),
    careteam("ct1", p, ["Behandlingsansvarlig lege", "Kontaktsykepleier"]),
    referral("sr1", p, "active", "2024-10-20"),
]))
