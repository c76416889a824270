// The admin token `npm start` generates when none is configured: 38 characters, above the 32 that
// libs/config requires of any admin token.
const crypto = require('crypto');

exports.generateAdminToken = () => `pladm_${crypto.randomBytes(24).toString('base64url')}`;
