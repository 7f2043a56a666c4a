"""The variables the victim's case prompts need (prompts/<lang>/victim/, docs/victim.md);
test_prompts.py merges them with the rest."""

from __future__ import annotations

VICTIM_NEEDS: dict[str, dict[str, object]] = {
    "victim/case_heading": {"number": "HL-7K3M-9QX2", "date": "2026-12-01", "contacts": 2},
    "victim/case_td_item": {"n": 1, "status": "taken down"},
    "victim/case_td_request": {"platform": "X (Twitter)", "state": "request sent"},
    "victim/case_platform": {"code": "x"},
    "victim/case_links_sent": {"count": 2},
    "victim/case_issued": {"number": "HL-7K3M-9QX2", "pin": "482913",
                           "url": "https://hotline.example/chat/case"},
    "victim/marker_return": {"number": "HL-7K3M-9QX2"},
    "victim/referral_line": {"place": "Women's Emergency Line 1366", "phone": "1366",
                             "hours": "24 hours", "web": "https://www.women1366.kr"},
    "victim/chat_evidence_send_file": {"days": 30},
    "victim/chat_evidence_done": {"short": "9f86d081"},
    "victim/voice_case": {"spelled": "H L, 7 K 3 M, 9 Q X 2", "pin": "4 8 2 9 1 3"},
}
# Variables that choose a wording rather than being shown as they are.
VICTIM_SELECTORS = {"code"}
