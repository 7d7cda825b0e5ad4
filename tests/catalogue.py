"""The intent catalogue: the names product owners, reports and evaluation rely on."""

CONVERSATION = ["greet", "goodbye", "thank_you", "affirm", "deny", "bot_challenge",
                "request_human", "cancel", "restart", "out_of_scope", "inform"]
FAQ_KEYS = ["plans_overview", "roaming", "coverage", "payment_methods", "store_hours",
            "number_porting", "esim", "international_calls", "apn_settings",
            "contract_cancellation", "bill_explained", "voicemail", "puk_code", "data_speed"]
ACCOUNT = ["check_balance", "check_data_usage", "check_bill", "check_plan", "change_plan",
           "buy_data_pack", "activate_roaming", "report_lost_sim", "unsubscribe_vas", "get_puk",
           "contact_history"]
COMPLAINTS = ["file_complaint", "complaint_status", "report_network_issue", "billing_dispute"]
ENTITIES = ["phone_number", "otp_code", "complaint_reference", "plan_name", "data_pack",
            "complaint_category", "location"]

# Every label a message can get: plain intents and full retrieval intents (faq/<key>).
ALL_LABELS = CONVERSATION + ACCOUNT + COMPLAINTS + [f"faq/{key}" for key in FAQ_KEYS]
