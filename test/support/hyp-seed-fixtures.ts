/** The seed's documented getSessionId responses (shared/seeds/001), verbatim: test fixtures. */
export const SEED_SUCCESS = `<?xml version='1.0'?>
<ashrait>
    <response>
        <command>getSessionId</command>
        <dateTime>2025-08-06 11:07</dateTime>
        <requestId />
        <tranId>119295603</tranId>
        <result>000</result>
        <message>Permitted transaction</message>
        <userMessage>Permitted transaction</userMessage>
        <additionalInfo />
        <version>2000</version>
        <language>Eng</language>
        <getSessionId>
            <sessionId>3e4cb361-0465-44db-9d46-bd393f0e120d</sessionId>
            <sessionExpiration>600</sessionExpiration>
            <sessionReUse>1</sessionReUse>
        </getSessionId>
    </response>
</ashrait>`;

export const SEED_ERROR_405 = `<?xml version='1.0'?>
<ashrait>
    <response>
        <command>getSessionId</command>
        <dateTime>2025-08-06 11:22</dateTime>
        <requestId />
        <tranId>119295893</tranId>
        <result>405</result>
        <message>SSL HTTPS customers are not permitted to access the system</message>
        <userMessage>Please contact System Administration</userMessage>
        <additionalInfo>Merchant authentication error!</additionalInfo>
        <version>2000</version>
        <language>Eng</language>
        <getSessionId>
            <sessionId />
            <sessionExpiration />
            <sessionReUse />
        </getSessionId>
    </response>
</ashrait>`;
