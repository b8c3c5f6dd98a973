// Object identifiers the log acts on, in dotted form as decodeOid returns them.

/** RFC 6962 §3.1: the critical extension that makes a certificate a precertificate. */
export const OID_CT_POISON = '1.3.6.1.4.1.11129.2.4.3';
/** RFC 6962 §3.1: the EKU of a Precertificate Signing Certificate. */
export const OID_CT_PRECERT_SIGNING = '1.3.6.1.4.1.11129.2.4.4';
/** RFC 6962 §3.3: the extension of a certificate that carries its SCTs already. */
export const OID_CT_SCT_LIST = '1.3.6.1.4.1.11129.2.4.2';

export const OID_BASIC_CONSTRAINTS = '2.5.29.19';
export const OID_EXT_KEY_USAGE = '2.5.29.37';
export const OID_AUTHORITY_KEY_ID = '2.5.29.35';
export const OID_SUBJECT_KEY_ID = '2.5.29.14';

export const OID_EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const OID_EKU_ANY = '2.5.29.37.0';
